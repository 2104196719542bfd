/*-------------------------------------------------------------------------
 *
 * preflight.c
 *	  Everything checked about a folder before any of its migrations runs,
 *	  and again when each one runs: drift, the scripts' statements, whether
 *	  a file changed meanwhile; and how a checked script runs in the
 *	  current transaction.
 *
 * The rules follow each format's own tool rather than stricter ones: an
 * empty down script is no down script, a whole-file BEGIN/COMMIT wrapper
 * is the migration's transaction, a migration made only of statements
 * that run outside a transaction block needs none, and a broken down
 * script warns and blocks only its own rollback.  Every problem of a
 * folder is reported at once.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "preflight/preflight.h"

/* How an applied script and its file differ, when only in white space */
typedef enum DriftNote
{
	DRIFT_CONTENT,				/* in more than white space */
	DRIFT_FILE_CRLF,			/* the file has CRLF line ends, the script LF */
	DRIFT_FILE_LF,				/* the file has LF line ends, the script CRLF */
	DRIFT_TRAILING_NEWLINE		/* only in a trailing newline */
} DriftNote;

static void normalize_line_ends(const char *text, StringInfo out,
								bool *had_cr, bool *had_trailing);
static DriftNote whitespace_only_note(const char *applied,
									  const char *current);
static int	errdetail_modified(const char *file, const char *now,
							   const char *then, DriftNote note, int nothers,
							   const char *others);
static void report_drift(int elevel, const MigrationSet *set,
						 const AppliedMigration *am, const Migration *m,
						 int nothers, const char *others);
static StatementList *check_commit_split(Migration *m, const LoadedMigration *lm,
										 StatementList *stmts,
										 bool in_one_transaction);
static StatementList *check_up_script(Migration *m, const LoadedMigration *lm,
									  bool in_one_transaction,
									  StatementList **after);

/*
 * Text with CRLF line ends turned to LF, and without trailing line ends,
 * in *out; says whether it had either.
 */
static void
normalize_line_ends(const char *text, StringInfo out, bool *had_cr,
					bool *had_trailing)
{
	*had_cr = false;
	*had_trailing = false;
	initStringInfo(out);
	for (const char *p = text; *p; p++)
	{
		if (p[0] == '\r' && p[1] == '\n')
			*had_cr = true;
		else
			appendStringInfoChar(out, *p);
	}
	while (out->len > 0 && out->data[out->len - 1] == '\n')
	{
		out->data[--out->len] = '\0';
		*had_trailing = true;
	}
}

/*
 * Whether an applied script and its file differ only in line ends (CRLF
 * against LF, as a checkout with core.autocrlf makes them) or in a
 * trailing newline, the commonest false alarm, for the detail to say so.
 */
static DriftNote
whitespace_only_note(const char *applied, const char *current)
{
	StringInfoData a,
				c;
	bool		a_cr,
				c_cr,
				a_trailing,
				c_trailing;
	bool		same;

	normalize_line_ends(applied, &a, &a_cr, &a_trailing);
	normalize_line_ends(current, &c, &c_cr, &c_trailing);
	same = strcmp(a.data, c.data) == 0;
	pfree(a.data);
	pfree(c.data);
	if (!same)
		return DRIFT_CONTENT;
	if (a_cr != c_cr)
		return c_cr ? DRIFT_FILE_CRLF : DRIFT_FILE_LF;
	return DRIFT_TRAILING_NEWLINE;
}

/*
 * The detail of a modified migration: its checksums, what the difference
 * is when only white space, and how many others drifted (named in
 * others).  Each combination is a whole sentence of its own, for
 * translation.
 */
static int
errdetail_modified(const char *file, const char *now, const char *then,
				   DriftNote note, int nothers, const char *others)
{
	if (nothers == 0)
		switch (note)
		{
			case DRIFT_CONTENT:
				return errdetail("File \"%s\" has checksum %s, but %s was recorded when it was applied.",
								 file, now, then);
			case DRIFT_FILE_CRLF:
				return errdetail("File \"%s\" has checksum %s, but %s was recorded when it was applied. The only difference is in line endings: the file has CRLF (Windows) line endings where the applied script had LF.",
								 file, now, then);
			case DRIFT_FILE_LF:
				return errdetail("File \"%s\" has checksum %s, but %s was recorded when it was applied. The only difference is in line endings: the file has LF line endings where the applied script had CRLF (Windows).",
								 file, now, then);
			case DRIFT_TRAILING_NEWLINE:
				return errdetail("File \"%s\" has checksum %s, but %s was recorded when it was applied. The only difference is a trailing newline.",
								 file, now, then);
		}
	switch (note)
	{
		case DRIFT_CONTENT:
			return errdetail_plural("File \"%s\" has checksum %s, but %s was recorded when it was applied. %d more applied migration has drifted too: %s.",
									"File \"%s\" has checksum %s, but %s was recorded when it was applied. %d more applied migrations have drifted too: %s.",
									nothers, file, now, then, nothers, others);
		case DRIFT_FILE_CRLF:
			return errdetail_plural("File \"%s\" has checksum %s, but %s was recorded when it was applied. The only difference is in line endings: the file has CRLF (Windows) line endings where the applied script had LF. %d more applied migration has drifted too: %s.",
									"File \"%s\" has checksum %s, but %s was recorded when it was applied. The only difference is in line endings: the file has CRLF (Windows) line endings where the applied script had LF. %d more applied migrations have drifted too: %s.",
									nothers, file, now, then, nothers, others);
		case DRIFT_FILE_LF:
			return errdetail_plural("File \"%s\" has checksum %s, but %s was recorded when it was applied. The only difference is in line endings: the file has LF line endings where the applied script had CRLF (Windows). %d more applied migration has drifted too: %s.",
									"File \"%s\" has checksum %s, but %s was recorded when it was applied. The only difference is in line endings: the file has LF line endings where the applied script had CRLF (Windows). %d more applied migrations have drifted too: %s.",
									nothers, file, now, then, nothers, others);
		case DRIFT_TRAILING_NEWLINE:
			return errdetail_plural("File \"%s\" has checksum %s, but %s was recorded when it was applied. The only difference is a trailing newline. %d more applied migration has drifted too: %s.",
									"File \"%s\" has checksum %s, but %s was recorded when it was applied. The only difference is a trailing newline. %d more applied migrations have drifted too: %s.",
									nothers, file, now, then, nothers, others);
	}
	return 0;					/* keep compiler quiet */
}

/*
 * Report one drifted migration at elevel: an ERROR names the first one and
 * counts the others (listed in others), a WARNING each one.  A modified
 * one's recorded script is read to tell a change of line endings from
 * others: only for the migrations reported, so that a check of many
 * applied migrations reads no scripts.
 */
static void
report_drift(int elevel, const MigrationSet *set, const AppliedMigration *am,
			 const Migration *m, int nothers, const char *others)
{
	if (m)
	{
		AppliedMigration *recorded = tracking_find(am->name);
		LoadedMigration lm;
		DriftNote	note = DRIFT_CONTENT;

		migration_load(set, m, &lm, false);
		if (recorded)
			note = whitespace_only_note(recorded->up_sql, lm.up.sql);

		ereport(elevel,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("migration \"%s\" was modified after it was applied",
						am->name),
				 errdetail_modified(m->up_file, m->checksum, am->checksum, note,
									nothers, others),
				 elevel >= ERROR ?
				 errhint("Restore the file as it was applied, record it as it is now with migrate.accept() if it was edited on purpose, or pass allow_drift => true to apply pending migrations anyway; migrate.status() shows every drifted migration.") : 0));
	}
	else
		ereport(elevel,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("applied migration \"%s\" is missing from folder \"%s\"",
						am->name, set->dir),
				 nothers == 0 ?
				 errdetail("It is recorded as applied, but no file of that name is in the folder any more.") :
				 errdetail_plural("It is recorded as applied, but no file of that name is in the folder any more. %d more applied migration has drifted too: %s.",
								  "It is recorded as applied, but no file of that name is in the folder any more. %d more applied migrations have drifted too: %s.",
								  nothers, nothers, others),
				 elevel >= ERROR ?
				 errhint("Restore the file as it was applied, delete its record with migrate.forget() if it was removed on purpose, or pass allow_drift => true to apply pending migrations anyway; migrate.status() shows every drifted migration.") : 0));
}

/*
 * Stop when an applied migration's file changed or disappeared: the schema
 * no longer matches the folder, and applying more on top of it hides that.
 */
void
check_drift(const MigrationSet *set, List *applied, bool allow_drift)
{
	ListCell   *lc;
	StringInfoData others;
	const AppliedMigration *first = NULL;
	int			ndrift = 0;
	int			next = 0;

	initStringInfo(&others);
	foreach(lc, applied)
	{
		AppliedMigration *am = lfirst(lc);
		Migration  *m = source_find_next(set, am->name, &next);

		if (m && (m->repeatable || strcmp(m->checksum, am->checksum) == 0))
			continue;
		if (allow_drift)
			report_drift(WARNING, set, am, m, 0, NULL);
		else if (first == NULL)
			first = am;
		else
			appendStringInfo(&others, "%s\"%s\"", ndrift > 1 ? ", " : "",
							 am->name);
		ndrift++;
	}

	if (first)
		report_drift(ERROR, set, first, source_find(set, first->name),
					 ndrift - 1, others.data);
}

/* Checksum of a down script, or "" when there is none */
void
down_checksum(const LoadedMigration *lm, char *out)
{
	if (lm->down.sql)
		checksum_hex(lm->down.sql, strlen(lm->down.sql), out);
	else
		out[0] = '\0';
}

/*
 * Make sure a migration's scripts, read again to run them, are the bytes
 * that were checked before the run started: what runs and is recorded
 * must be what was checked.  A file edited meanwhile stops the run before
 * any of its statements runs, with a serialization failure: a concurrent
 * change, which the next run retries by itself.
 */
void
check_unchanged(const MigrationSet *set, const Migration *m,
				const LoadedMigration *lm)
{
	char		up[MIGRATE_CHECKSUM_LEN + 1];
	char		down[MIGRATE_CHECKSUM_LEN + 1];

	checksum_hex(lm->up.sql, strlen(lm->up.sql), up);
	down_checksum(lm, down);
	if (strcmp(up, m->checksum) != 0 || strcmp(down, m->down_checksum) != 0 ||
		lm->no_transaction != m->marked_no_transaction)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("migration \"%s\" changed while it was being applied",
						m->name),
				 errdetail("Its files in folder \"%s\" differ from what was checked before the run started; none of its statements ran.",
						   set->dir),
				 errhint("Run the migrations again once the folder no longer changes.")));
}

/*
 * Read a migration's scripts to run them, insisting on the bytes that were
 * checked; what the checks decided of its transaction mode holds.
 */
void
load_as_checked(const MigrationSet *set, const Migration *m,
				LoadedMigration *lm)
{
	migration_load(set, m, lm, true);
	check_unchanged(set, m, lm);
	lm->no_transaction = m->no_transaction;
}

/*
 * A drizzle migration whose COMMIT ends drizzle-orm's transaction (see
 * formats/drizzle.c): migrate.run() runs the statements before it in one
 * transaction and the rest outside one, and says so; migrate.apply(), one
 * transaction, refuses it.  Returns the statements after the COMMIT, or
 * NULL when the migration is not split.
 */
static StatementList *
check_commit_split(Migration *m, const LoadedMigration *lm,
				   StatementList *stmts, bool in_one_transaction)
{
	CommitSplit split;
	ScriptErrorContext ctx;

	if (!drizzle_split_at_commit(lm, stmts, &split))
		return NULL;
	if (in_one_transaction)
	{
		script_error_push(&ctx, &lm->up);
		ctx.line = split.line;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
				 errmsg("file \"%s\" ends the transaction with COMMIT at line %d",
						m->up_file, split.line),
				 errdetail("drizzle-orm runs the statements after such a COMMIT outside a transaction, and migrate.apply() runs every migration in the caller's transaction, which a migration cannot end."),
				 errhint("Apply the folder with CALL migrate.run(...), which runs the statements before the COMMIT in one transaction and the rest outside one.")));
	}
	m->commit_line = split.line;
	ereport(NOTICE,
			(errmsg("migration \"%s\" will run in two parts", m->name),
			 errdetail("File \"%s\" ends the transaction with COMMIT at line %d, as drizzle-orm allows: the statements before it run in one transaction, committed before the statements after it run one by one outside a transaction block.",
					   m->up_file, split.line)));
	script_check(&lm->up, split.after, CHECK_NOTHING);
	return split.after;
}

/*
 * Check a pending migration's up script.  In migrate.run(), a migration
 * made only of statements PostgreSQL runs outside a transaction block
 * (Flyway detects the same) runs as if it were marked
 * "-- migrate:no-transaction"; migrate.apply(), one transaction, refuses
 * it.  Such a script wrapped in BEGIN/COMMIT is not one of those.  *after
 * gets the statements after a drizzle migration's COMMIT, or NULL.
 */
static StatementList *
check_up_script(Migration *m, const LoadedMigration *lm, bool in_one_transaction,
				StatementList **after)
{
	StatementList *stmts;
	bool		unwrapped;

	if (lm->no_transaction && in_one_transaction)
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("migration \"%s\" cannot run inside a transaction block", m->name),
				 errdetail("File \"%s\" is marked to run outside a transaction block, and migrate.apply() runs every migration in the caller's transaction.",
						   m->up_file),
				 errhint("Apply the folder with CALL migrate.run(...), which runs such migrations outside a transaction block.")));

	stmts = script_split_to_run(&lm->up, false, !lm->no_transaction, &unwrapped);
	*after = check_commit_split(m, lm, stmts, in_one_transaction);
	if (!lm->no_transaction && !in_one_transaction && !unwrapped &&
		*after == NULL && script_all_top_level(stmts))
	{
		m->no_transaction = true;
		ereport(NOTICE,
				(errmsg("migration \"%s\" will run outside a transaction block", m->name),
				 errdetail("Every statement of file \"%s\" runs only outside a transaction block, as if the file were marked \"-- migrate:no-transaction\".",
						   m->up_file)));
	}
	script_check(&lm->up, stmts,
				 m->no_transaction ? CHECK_NOTHING : CHECK_UP_SCRIPT);
	return stmts;
}

/*
 * A down script that cannot be run does not stop the migration from being
 * applied (its own tool never reads it then): it is a WARNING naming the
 * file and line, and migrate.rollback() of that migration refuses with the
 * same error before undoing anything.  The check only parses, so nothing
 * but memory needs cleaning up after an error: no subtransaction.
 */
void
warn_broken_down(const Migration *m, const LoadedMigration *lm)
{
	MemoryContext cxt = CurrentMemoryContext;

	if (lm->down.sql == NULL)
		return;
	PG_TRY();
	{
		StatementList *stmts = script_split_to_run(&lm->down, true, true, NULL);

		script_check(&lm->down, stmts, CHECK_NOTHING);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			line = script_check_line();
		bool		section = strcmp(lm->down.file, m->up_file) == 0;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (section)
			ereport(WARNING,
					(errcode(edata->sqlerrcode),
					 errmsg("down section of migration \"%s\" cannot be run: %s",
							m->name, edata->message),
					 errdetail("The down section is in file \"%s\", at line %d.",
							   lm->down.file, line),
					 errhint("The migration can still be applied, but migrate.rollback() of it will refuse until the down section is fixed.")));
		else
			ereport(WARNING,
					(errcode(edata->sqlerrcode),
					 errmsg("down script of migration \"%s\" cannot be run: %s",
							m->name, edata->message),
					 errdetail("The down script is file \"%s\"; the error is at line %d.",
							   lm->down.file, line),
					 errhint("The migration can still be applied, but migrate.rollback() of it will refuse until the down script is fixed.")));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/*
 * Check one pending migration before anything runs, and note what the
 * checks learnt of it (its down script's checksum, its transaction mode),
 * so that running it can insist on the same.  Its lint findings come
 * last, as migrate.lint (the setting) says (lint.c).
 */
void
check_pending(const MigrationSet *set, Migration *m, const LoadedMigration *lm,
			  bool in_one_transaction)
{
	StatementList *stmts;
	StatementList *after;

	m->marked_no_transaction = lm->no_transaction;
	m->no_transaction = lm->no_transaction;
	m->commit_line = 0;
	down_checksum(lm, m->down_checksum);
	/* the up script must still be what source_load() hashed */
	check_unchanged(set, m, lm);
	if (m->adopted)
		return;
	stmts = check_up_script(m, lm, in_one_transaction, &after);
	warn_broken_down(m, lm);
	lint_pending(m, lm, stmts, after);
}

/*
 * Raise the problems found in a folder's files: one as it was raised, with
 * its own SQLSTATE, hint and context; several as one error listing each
 * file and line, so that all can be fixed in one go.
 */
void
report_problems(const MigrationSet *set, List *problems)
{
	StringInfoData list;
	ListCell   *lc;
	CheckProblem *first;

	if (problems == NIL)
		return;
	first = linitial(problems);
	if (list_length(problems) == 1)
		ReThrowError(first->edata);

	initStringInfo(&list);
	foreach(lc, problems)
	{
		CheckProblem *p = lfirst(lc);

		if (list.len > 0)
			appendStringInfoChar(&list, '\n');
		if (p->line > 0)
			appendStringInfo(&list, "%s, line %d: %s", p->file, p->line,
							 p->edata->message);
		else
			appendStringInfo(&list, "%s: %s", p->file, p->edata->message);
	}
	ereport(ERROR,
			(errcode(first->edata->sqlerrcode),
			 errmsg("%d migrations of folder \"%s\" cannot be run",
					list_length(problems), set->dir),
			 errdetail_internal("%s", list.data),
			 errhint("Fix every file listed; nothing was run.")));
}

static void
generate_before(void *arg, const Statement *stmt, const char *sql)
{
	inverse_before(arg, stmt, sql);
}

static void
generate_after(void *arg, const Statement *stmt, const char *sql)
{
	inverse_after(arg, stmt, sql);
}

/*
 * Run a script's statements through SPI, with migrate.lock_timeout in
 * place of the session's lock_timeout while they run (unless it gives way
 * to the session's: see migrate_lock_timeout_in_force).  Whatever
 * the script changes of the settings (SET search_path, SET ROLE, RESET
 * ALL...) is undone afterwards, as when a transaction aborts: each
 * migration starts from the caller's settings and role, and the caller
 * gets them back.  With down, the statements' inverses are generated as
 * they run.  The runs (apply, run, rollback) and migrate.verify()'s
 * rehearsal of them share it.
 */
void
execute_in_transaction(const Script *script, const StatementList *stmts,
					   bool retry_statements, DownGenerator *down,
					   ExecReport *report)
{
	int			nest = NewGUCNestLevel();
	StatementObserver observer = {generate_before, generate_after, down};
	int			lock_timeout = migrate_lock_timeout_in_force(NULL);

	if (lock_timeout > 0)
		(void) set_config_option("lock_timeout",
								 psprintf("%d", lock_timeout),
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	execute_script(script, stmts,
				   retry_statements && migrate_lock_retries > 0 ?
				   execute_spi_statement_retrying : execute_spi_statement,
				   down ? &observer : NULL, report);
	AtEOXact_GUC(false, nest);
}
