/*-------------------------------------------------------------------------
 *
 * drizzle.c
 *	  Folders written by drizzle-kit generate: meta/_journal.json lists the
 *	  migrations in order ("entries": idx, when, tag, breakpoints), and each
 *	  tag is "<tag>.sql" beside it.  An optional "<tag>.down.sql" is its
 *	  down script.  drizzle-kit 1.0 writes another layout, one folder per
 *	  migration ("<timestamp>_<name>/migration.sql" beside its
 *	  "snapshot.json") and no journal: it is refused, never taken for
 *	  Prisma's, whose folders look the same but hold no snapshot.
 *
 * The journal is parsed with PostgreSQL's own JSON parser (as jsonb).
 * drizzle's "--> statement-breakpoint" separators are SQL comments, so the
 * server's parser splits those files like any other.
 *
 * drizzle-orm's migrator runs every statement of the pending migrations in
 * one transaction it opened, and records each migration in that
 * transaction after its statements.  A plain COMMIT (or END) of its own in
 * a file therefore ends that transaction: the statements after it run one
 * by one in autocommit (CREATE INDEX CONCURRENTLY, a procedure that
 * commits, ALTER TYPE ... ADD VALUE then a use of the value), and projects
 * rely on it.  drizzle_split_at_commit() reads such a file the same way:
 * the statements before the first COMMIT in one transaction, the rest as a
 * no-transaction migration runs (see run/run.c).  A BEGIN before them all
 * opens nothing drizzle-orm had not opened, and a COMMIT with nothing
 * after it only ends the migration's transaction: both are dropped.  Other
 * transaction control after the COMMIT stays refused.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"

#include "formats/formats.h"

#define JOURNAL "meta/_journal.json"

static bool drizzle_claims(const Folder *folder, List *files);
static void drizzle_scan(MigrationSet *set, List *files);
static JsonbContainer *parse_journal(const MigrationSet *set, const char *text);
static char *add_entry(MigrationSet *set, List *files, List *tags,
					   JsonbContainer *array, uint32 i);
static void journal_error_callback(void *arg);
static JsonbValue *entry_field(JsonbContainer *entry, const char *key,
							   enum jbvType type, int index, const char *dir);

static void drizzle_load(const MigrationSet *set, const Migration *m,
						 LoadedMigration *out, bool with_down);

const MigrationFormat drizzle_format = {
	"drizzle", drizzle_claims, drizzle_scan, drizzle_load
};

static void
drizzle_load(const MigrationSet *set, const Migration *m, LoadedMigration *out,
			 bool with_down)
{
	load_up_down_files(set, m, out, with_down);
	out->commit_ends_transaction = true;
}

/*
 * Split the statements of a drizzle migration's up script at a COMMIT that
 * ends drizzle-orm's transaction (see the top of this file): stmts keeps
 * those before it, and split gets the COMMIT's line, the statements after
 * it (offsets and lines still those of lm->up) and the script's text from
 * the first of them on, for the background worker.  Returns false, split
 * zeroed, when the migration is not split: not drizzle's, marked
 * no-transaction, no COMMIT, or nothing after it.
 */
bool
drizzle_split_at_commit(const LoadedMigration *lm, StatementList *stmts,
						CommitSplit *split)
{
	int			at = -1;
	StatementList *after;

	memset(split, 0, sizeof(CommitSplit));
	if (!lm->commit_ends_transaction || lm->no_transaction)
		return false;
	for (int i = 0; i < stmts->count && at < 0; i++)
		if (stmts->items[i].kind == STMT_WRAPPER_COMMIT)
			at = i;
	if (at < 0)
		return false;
	if (at == stmts->count - 1)
	{
		/* the end of the migration's own transaction */
		stmts->count--;
		return false;
	}

	after = palloc(sizeof(StatementList));
	after->count = after->allocated = stmts->count - at - 1;
	after->items = palloc(sizeof(Statement) * after->count);
	memcpy(after->items, &stmts->items[at + 1], sizeof(Statement) * after->count);
	split->line = stmts->items[at].line;
	split->after = after;
	split->rest.file = lm->up.file;
	split->rest.sql = lm->up.sql + after->items[0].offset;
	split->rest.first_line = after->items[0].line;

	stmts->count = at;
	if (at > 0 && stmts->items[0].kind == STMT_WRAPPER_BEGIN)
	{
		memmove(&stmts->items[0], &stmts->items[1], sizeof(Statement) * (at - 1));
		stmts->count--;
	}
	return true;
}

static bool
drizzle_claims(const Folder *folder, List *files)
{
	return folder_has_file(folder, JOURNAL);
}

/*
 * The first migration folder of drizzle-kit 1.0's layout in the folder: a
 * numbered subfolder holding migration.sql and snapshot.json, in a folder
 * without journal or Prisma's migration_lock.toml; NULL when there is none
 */
const char *
drizzle_v1_subfolder(const Folder *folder, List *files)
{
	ListCell   *lc;

	if (string_list_member(files, "migration_lock.toml") ||
		folder_has_file(folder, JOURNAL))
		return NULL;
	foreach(lc, folder_list_subfolders(folder))
	{
		const char *sub = lfirst(lc);

		if (isdigit((unsigned char) sub[0]) &&
			folder_has_file(folder, psprintf("%s/snapshot.json", sub)) &&
			folder_has_file(folder, psprintf("%s/migration.sql", sub)))
			return sub;
	}
	return NULL;
}

/*
 * Refuse a folder of drizzle-kit 1.0's layout: read as Prisma's, it would
 * run, but be recorded in a _prisma_migrations table that drizzle-orm's
 * migrator knows nothing of, which would run everything again.
 */
void
drizzle_v1_refuse(const Folder *folder, List *files)
{
	const char *sub = drizzle_v1_subfolder(folder, files);

	if (sub == NULL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("migrations folder \"%s\" is in the layout of drizzle-kit 1.0, which is not supported yet",
					folder->name),
			 errdetail("Its subfolder \"%s\" holds migration.sql beside snapshot.json, and there is no \"%s\": drizzle-kit 1.0 writes its migrations so, and drizzle-orm 1.0's migrator records each by its folder's name in drizzle.__drizzle_migrations, as pg_migrate does not yet.",
					   sub, JOURNAL),
			 errhint("Apply this folder with drizzle-orm's migrator or \"drizzle-kit migrate\" for now; pg_migrate reads the folders of drizzle-kit 0.x, whose \"%s\" lists the migrations.",
					 JOURNAL)));
}

static void
journal_error_callback(void *arg)
{
	errcontext("drizzle journal \"%s/%s\"", (const char *) arg, JOURNAL);
}

/* A field of a journal entry, of the given type, or an error naming it */
static JsonbValue *
entry_field(JsonbContainer *entry, const char *key, enum jbvType type,
			int index, const char *dir)
{
	JsonbValue *v = getKeyJsonValueFromContainer(entry, key, strlen(key), NULL);

	if (v == NULL || v->type != type)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("entry %d of drizzle journal \"%s/%s\" has no valid \"%s\"",
						index, dir, JOURNAL, key),
				 errdetail("drizzle-kit writes \"idx\" and \"when\" as numbers and \"tag\" as a string in every entry."),
				 errhint("Regenerate the journal with drizzle-kit, or fix the entry by hand.")));
	return v;
}

/* The journal's "entries" array, parsed with PostgreSQL's JSON parser */
static JsonbContainer *
parse_journal(const MigrationSet *set, const char *text)
{
	Jsonb	   *journal;
	JsonbValue *entries;

	journal = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
	entries = JsonContainerIsObject(&journal->root) ?
		getKeyJsonValueFromContainer(&journal->root, "entries", 7, NULL) : NULL;
	if (entries == NULL || entries->type != jbvBinary ||
		!JsonContainerIsArray(entries->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("drizzle journal \"%s/%s\" has no \"entries\" array",
						set->dir, JOURNAL),
				 errhint("Regenerate the journal with drizzle-kit generate.")));
	return entries->val.binary.data;
}

/*
 * Add the migration of journal entry i (tag, idx, when), whose file must
 * be in the folder.  Returns its tag.
 */
static char *
add_entry(MigrationSet *set, List *files, List *tags, JsonbContainer *array,
		  uint32 i)
{
	JsonbValue *entry = getIthJsonbValueFromContainer(array, i);
	JsonbValue *v;
	char	   *tag;
	char	   *file;
	char	   *down;
	int32		idx;
	Migration  *m;

	if (entry->type != jbvBinary || !JsonContainerIsObject(entry->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("entry %u of drizzle journal \"%s/%s\" is not an object",
						i, set->dir, JOURNAL)));
	v = entry_field(entry->val.binary.data, "tag", jbvString, i, set->dir);
	tag = pnstrdup(v->val.string.val, v->val.string.len);
	v = entry_field(entry->val.binary.data, "idx", jbvNumeric, i, set->dir);
	idx = DatumGetInt32(DirectFunctionCall1(numeric_int4,
											NumericGetDatum(v->val.numeric)));
	v = entry_field(entry->val.binary.data, "when", jbvNumeric, i, set->dir);

	if (strchr(tag, '/') != NULL || string_list_member(tags, tag))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("drizzle journal \"%s/%s\" has an invalid or repeated tag \"%s\"",
						set->dir, JOURNAL, tag)));
	file = psprintf("%s.sql", tag);
	down = psprintf("%s.down.sql", tag);
	if (!string_list_member(files, file))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("drizzle journal entry \"%s\" has no file \"%s\"", tag, file),
				 errdetail("The journal \"%s/%s\" lists it, but the folder does not hold it.",
						   set->dir, JOURNAL),
				 errhint("Restore the file, or regenerate the migrations with drizzle-kit.")));

	m = source_add(set, tag, psprintf("%d", idx), file);
	m->created_at = DatumGetInt64(DirectFunctionCall1(numeric_int8,
													  NumericGetDatum(v->val.numeric)));
	if (string_list_member(files, down))
		m->down_file = down;
	return tag;
}

static void
drizzle_scan(MigrationSet *set, List *files)
{
	char	   *text = folder_read_file(set->folder, JOURNAL, true);
	ErrorContextCallback cb;
	JsonbContainer *array;
	List	   *tags = NIL;
	ListCell   *lc;

	drizzle_v1_refuse(set->folder, files);
	if (text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("folder \"%s\" has no drizzle journal \"%s\"", set->dir, JOURNAL),
				 errhint("Pass the folder drizzle-kit generate writes to (its \"out\" setting), or another format.")));

	cb.callback = journal_error_callback;
	cb.arg = (void *) set->dir;
	cb.previous = error_context_stack;
	error_context_stack = &cb;
	array = parse_journal(set, text);
	for (uint32 i = 0; i < JsonContainerSize(array); i++)
		tags = lappend(tags, add_entry(set, files, tags, array, i));
	error_context_stack = cb.previous;

	/* drizzle-orm follows its journal: a file it does not list never runs */
	foreach(lc, files)
	{
		char	   *file = pstrdup(lfirst(lc));

		if (!strip_suffix(file, ".sql"))
			continue;
		(void) strip_suffix(file, ".down");
		if (!string_list_member(tags, file))
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("file \"%s\" is not in the drizzle journal and is ignored",
							(char *) lfirst(lc)),
					 errdetail("Folder \"%s\" is in drizzle format, where \"%s\" lists the migrations; drizzle-orm's migrator ignores the file too.",
							   set->dir, JOURNAL),
					 errhint("Generate migrations with drizzle-kit generate, which records them in the journal, or move the file away.")));
	}
}
