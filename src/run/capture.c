/*-------------------------------------------------------------------------
 *
 * capture.c
 *	  migrate.capture(): the DDL run outside migrations, as the DDL log
 *	  recorded it, made into a migration recorded as applied, so that the
 *	  repository catches up with the database after a hotfix.
 *
 * The migration's script is the statements as they were sent, in the
 * order they ran, each once: one statement logs several rows (a CREATE
 * TABLE with a serial primary key logs the sequence, the table and the
 * index; a DROP logs sql_drop rows), and psql -c 'A; B' logs the same
 * text for each of its commands.  A DO block or a function call is kept as
 * it was: running it again does the same.  The file is written in the
 * folder's format, and the folder is read again with it added, so that
 * what is recorded (checksum, version, transaction mode) is what the
 * format's reader makes of the file the caller writes: afterwards status()
 * of the folder with that file shows the migration applied and unchanged.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "tcop/cmdtag.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "run/run.h"

/* One statement of the script, and the log rows it made */
typedef struct CapturedStatement
{
	const DdlLogRow *first;
	char	   *key;			/* transaction, backend and text */
	StringInfoData ids;			/* "12, 13" */
} CapturedStatement;

/* What the log rows make */
typedef struct CaptureScript
{
	List	   *statements;		/* the text of each, comment line first */
	List	   *objects;		/* "type identity" of each object logged */
	bool		no_transaction; /* a statement runs only outside one */
	ArrayType  *ids;			/* every row captured */
	StringInfoData ids_text;
} CaptureScript;

static void check_rows(List *rows, bool asked);
static void check_plain_name(const char *name);
static char *one_line(const char *s);
static char *statement_text(const char *statement);
static void inspect_statement(const DdlLogRow *row, CaptureScript *cs);
static void build_script(List *rows, CaptureScript *cs);
static Folder *folder_with(const Folder *folder, const NewMigration *nm);
static List *drift_not_captured(List *drifted, List *objects, List *left);
static List *objects_left(ArrayType *ids);
static void emit_file(ResultSink *sink, const char *name, const char *file,
					  const char *content);

/*
 * Refuse rows that are no out-of-band DDL waiting for a migration, when
 * the caller named them; and refuse to make an empty migration.
 */
static void
check_rows(List *rows, bool asked)
{
	ListCell   *lc;

	if (rows == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("there is no DDL to capture"),
				 asked ?
				 errdetail("The list of ids is empty.") :
				 errdetail("migrate.ddl_log holds no statement run outside migrations that is neither captured nor accepted."),
				 errhint("SELECT * FROM migrate.drift() lists the changes the DDL log did not see (made with event triggers off): write those into a migration by hand.")));

	foreach(lc, rows)
	{
		const DdlLogRow *r = lfirst(lc);

		if (!r->found)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("migrate.ddl_log has no row %lld", (long long) r->id),
					 errhint("SELECT id, statement FROM migrate.ddl_log WHERE origin = 'out_of_band' AND captured_as IS NULL lists the rows that can be captured.")));
		if (strcmp(r->origin, "out_of_band") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("migrate.ddl_log row %lld was run by a migration",
							(long long) r->id),
					 errdetail("Only statements run outside migrations (origin out_of_band) can be captured; this one is in the migration that ran it."),
					 errhint("Leave its id out.")));
		if (r->captured_as)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("migrate.ddl_log row %lld is already captured in migration \"%s\"",
							(long long) r->id, r->captured_as),
					 errhint("Leave its id out.")));
		if (r->statement == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("migrate.ddl_log row %lld has no statement text",
							(long long) r->id),
					 errdetail("The server gave the event trigger no query text for its %s command on %s.",
							   r->object_type ? r->object_type : "DDL",
							   r->object_identity ? r->object_identity : "an object"),
					 errhint("Capture the other rows by passing their ids, and write this change into a migration by hand.")));
	}
}

/* The name form writes a plain migration: "0004_add_nickname" */
static void
check_plain_name(const char *name)
{
	char	   *file = psprintf("%s.sql", name);
	NumberedFile nf;

	if (strchr(name, '/') == NULL && numbered_parse(file, &nf) &&
		nf.kind == FILE_BARE && strcmp(nf.name, name) == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid migration name \"%s\"", name),
			 errdetail("migrate.capture(name) makes a migration of the plain format, whose file is the name followed by \".sql\"."),
			 errhint("Name it like \"0004_add_nickname\": its version, then a description. For a folder in another format, use the pg_migrate command's capture, which names the file as the format wants.")));
}

/* A name or an application for a comment line: no line break in it */
static char *
one_line(const char *s)
{
	char	   *r = pstrdup(s);

	for (char *p = r; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return r;
}

/*
 * The statement as it was sent, trimmed, ending with ';' and a newline.
 * The ';' goes on a line of its own when the last line holds "--", which
 * may start a comment that would swallow it.
 */
static char *
statement_text(const char *statement)
{
	const char *start = statement;
	int			len;
	char	   *text;
	char	   *last_line;

	while (isspace((unsigned char) *start))
		start++;
	len = strlen(start);
	while (len > 0 && isspace((unsigned char) start[len - 1]))
		len--;
	text = pnstrdup(start, len);
	if (len > 0 && text[len - 1] == ';')
		return psprintf("%s\n", text);
	last_line = strrchr(text, '\n');
	if (strstr(last_line ? last_line : text, "--") != NULL)
		return psprintf("%s\n;\n", text);
	return psprintf("%s;\n", text);
}

/*
 * Read what the statement holds, as apply will: a statement that runs only
 * outside a transaction block (CREATE INDEX CONCURRENTLY) makes the
 * migration a no-transaction one; a data change sent with the DDL in one
 * query is kept, since the DDL may need it, and said.
 */
static void
inspect_statement(const DdlLogRow *row, CaptureScript *cs)
{
	Script		script;
	StatementList *list;

	script.file = "migrate.ddl_log";
	script.sql = pstrdup(row->statement);
	script.first_line = 1;
	list = script_split(&script);
	for (int i = 0; i < list->count; i++)
	{
		const char *tag = GetCommandTagName((CommandTag) list->items[i].tag);

		if (list->items[i].top_level)
			cs->no_transaction = true;
		if (strcmp(tag, "INSERT") == 0 || strcmp(tag, "UPDATE") == 0 ||
			strcmp(tag, "DELETE") == 0 || strcmp(tag, "MERGE") == 0 ||
			strcmp(tag, "COPY") == 0)
		{
			ereport(WARNING,
					(errcode(ERRCODE_WARNING),
					 errmsg("the statement of migrate.ddl_log row %lld also changes data",
							(long long) row->id),
					 errdetail("It was sent in one query string with the schema change and holds a data change (%s); the migration holds it as it ran, so the data change runs again wherever the migration is applied.",
							   tag),
					 errhint("If it must not, edit the migration file, then record the file as it is with migrate.accept().")));
			break;
		}
	}
}

/*
 * The statements the rows make, each once: rows of the same transaction
 * and backend with the same text are one statement sent once.
 */
static void
build_script(List *rows, CaptureScript *cs)
{
	List	   *groups = NIL;
	Datum	   *ids = palloc(sizeof(Datum) * list_length(rows));
	int			nids = 0;
	ListCell   *lc;

	memset(cs, 0, sizeof(CaptureScript));
	initStringInfo(&cs->ids_text);
	foreach(lc, rows)
	{
		const DdlLogRow *r = lfirst(lc);
		char	   *key = psprintf("%s/%d/%s", r->xid ? r->xid : "", r->backend_pid,
								   r->statement);
		CapturedStatement *g = NULL;
		ListCell   *gc;

		ids[nids++] = Int64GetDatum(r->id);
		appendStringInfo(&cs->ids_text, "%s%lld", nids > 1 ? ", " : "",
						 (long long) r->id);
		if (r->object_type && r->object_identity)
			cs->objects = lappend(cs->objects,
								  psprintf("%s %s", r->object_type, r->object_identity));
		foreach(gc, groups)
		{
			CapturedStatement *c = lfirst(gc);

			if (strcmp(c->key, key) == 0)
				g = c;
		}
		if (g)
		{
			appendStringInfo(&g->ids, ", %lld", (long long) r->id);
			continue;
		}
		g = palloc0(sizeof(CapturedStatement));
		g->first = r;
		g->key = key;
		initStringInfo(&g->ids);
		appendStringInfo(&g->ids, "%lld", (long long) r->id);
		groups = lappend(groups, g);
		inspect_statement(r, cs);
	}
	foreach(lc, groups)
	{
		CapturedStatement *g = lfirst(lc);
		const DdlLogRow *r = g->first;

		cs->statements = lappend(cs->statements,
								 psprintf("-- migrate.ddl_log %s: role \"%s\"%s%s%s, %s\n%s",
										  g->ids.data, one_line(r->role),
										  r->application && r->application[0] ?
										  ", application \"" : "",
										  r->application && r->application[0] ?
										  one_line(r->application) : "",
										  r->application && r->application[0] ? "\"" : "",
										  r->logged_at, statement_text(r->statement)));
	}
	cs->ids = construct_array(ids, nids, INT8OID, sizeof(int64),
							  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

/* The folder as it will be: its files (if any) and the new ones */
static Folder *
folder_with(const Folder *folder, const NewMigration *nm)
{
	StringInfoData json;
	Datum		added;

	initStringInfo(&json);
	appendStringInfoChar(&json, '{');
	escape_json(&json, nm->file);
	appendStringInfoChar(&json, ':');
	escape_json(&json, nm->content);
	if (nm->journal)
	{
		appendStringInfoString(&json, ", \"meta/_journal.json\":");
		escape_json(&json, nm->journal);
	}
	appendStringInfoChar(&json, '}');
	added = DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data));
	if (folder && folder->files)
		added = DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(folder->files),
									added);
	return folder_sent(DatumGetJsonbP(added), folder ? folder->source : NULL);
}

/*
 * The drift that stays drift: the objects the captured rows do not name,
 * nor belong to (a column added by a captured ALTER TABLE is the table's)
 */
static List *
drift_not_captured(List *drifted, List *objects, List *left)
{
	List	   *keep = NIL;
	ListCell   *lc;

	foreach(lc, drifted)
	{
		DriftedObject *d = lfirst(lc);
		char	   *self = psprintf("%s %s", d->object_type, d->object_identity);

		if ((string_list_member(objects, self) && !string_list_member(left, self)) ||
			(d->parent && string_list_member(objects, d->parent) &&
			 !string_list_member(left, d->parent)))
			continue;
		keep = lappend(keep, d);
	}
	return keep;
}

/*
 * The objects that rows left waiting also changed, when the caller named
 * the rows to capture: the log names an ALTER TABLE by its table, so
 * which column each row changed is unknown, and such a table's drift stays
 * until the other rows are captured too, rather than vanish unrecorded.
 */
static List *
objects_left(ArrayType *ids)
{
	List	   *left = NIL;
	ListCell   *lc;
	Datum	   *captured;
	int			n;

	if (ids == NULL)
		return NIL;
	deconstruct_array(ids, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &captured, NULL, &n);
	foreach(lc, ddl_log_capture_rows(NULL))
	{
		const DdlLogRow *r = lfirst(lc);
		bool		in_capture = false;

		for (int i = 0; i < n && !in_capture; i++)
			in_capture = DatumGetInt64(captured[i]) == r->id;
		if (!in_capture && r->object_type && r->object_identity)
			left = lappend(left, psprintf("%s %s", r->object_type,
										  r->object_identity));
	}
	return left;
}

static void
emit_file(ResultSink *sink, const char *name, const char *file,
		  const char *content)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(file);
	values[2] = CStringGetTextDatum(content);
	tuplestore_putvalues(sink->store, sink->desc, values, nulls);
}

/*
 * migrate.capture(): make a migration of the out-of-band rows of the DDL
 * log (those of ids, or every one neither captured nor accepted), record
 * it as applied with history action "capture", mark the rows captured,
 * and take the fingerprint again for the objects they changed.  With a
 * folder (sent as data), the migration is the folder's next one, named
 * after name, its description; without, a plain migration of that name.
 * Returns the files the caller writes into the folder.
 */
void
capture_migration(const Folder *folder, const char *format, const char *name,
				  ArrayType *ids, ResultSink *sink)
{
	List	   *rows;
	CaptureScript cs;
	MigrationSet plain = {0};
	MigrationSet *set;
	NewMigration nm;
	AppliedMigration *am;
	Folder	   *added;
	MigrationSet *added_set;
	Migration  *m;
	LoadedMigration lm;
	List	   *drifted;
	List	   *left;

	begin_write("migrate.capture()");
	rows = ddl_log_capture_rows(ids);
	check_rows(rows, ids != NULL);

	if (folder)
	{
		set = source_load(folder, format, NOTICE);
		new_migration_name(set, name, &nm);
		if (folder_has_file(folder, nm.file))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_FILE),
					 errmsg("file \"%s\" is already in folder \"%s\"", nm.file, folder->name),
					 errhint("Choose another description.")));
	}
	else
	{
		check_plain_name(name);
		plain.format = &plain_format;
		plain.dir = "migrate.capture()";
		set = &plain;
		memset(&nm, 0, sizeof(nm));
		nm.name = pstrdup(name);
		nm.file = psprintf("%s.sql", name);
	}
	am = tracking_find(nm.name);
	if (am)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("migration \"%s\" is already applied", nm.name),
				 errdetail("migrate.migrations records a migration of that name."),
				 errhint("Choose another name for the migration the capture makes.")));

	build_script(rows, &cs);
	new_migration_write(set,
						psprintf("-- Captured by pg_migrate from DDL run outside migrations (migrate.ddl_log %s).\n\n",
								 cs.ids_text.data),
						cs.statements, cs.no_transaction, &nm);

	/* what the format's reader makes of the folder with the new file */
	added = folder_with(folder, &nm);
	added_set = source_load(added, set->format->name, DEBUG1);
	m = source_find(added_set, nm.name);
	if (m == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not add migration \"%s\" to folder \"%s\"",
						nm.name, set->dir),
				 errdetail("The %s format's reader does not find it among the files the capture would write; nothing was recorded.",
						   set->format->name),
				 set->format == &drizzle_format ?
				 errhint("Check that \"entries\" is the last array of the drizzle journal, or write the migration by hand from the statements in migrate.ddl_log.") :
				 errhint("Write the migration by hand from the statements in migrate.ddl_log.")));
	migration_load(added_set, m, &lm, true);

	drifted = fingerprint_drift();
	left = objects_left(ids);
	ereport(NOTICE,
			(errmsg("recording the DDL of migrate.ddl_log %s as migration \"%s\"",
					cs.ids_text.data, m->name)));
	tracking_record_apply(added_set, m, &lm, m->checksum, 0, "capture", 0);
	/* the tool's table it may create is the migration's */
	ddl_log_mark(m->name, added->source, true);
	interop_record(added_set, m);
	ddl_log_unmark();
	ddl_log_set_captured(cs.ids, m->name);
	fingerprint_take(drift_not_captured(drifted, cs.objects, left));

	emit_file(sink, m->name, nm.file, nm.content);
	if (nm.journal)
		emit_file(sink, m->name, "meta/_journal.json", nm.journal);
}
