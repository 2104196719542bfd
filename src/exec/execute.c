/*-------------------------------------------------------------------------
 *
 * execute.c
 *	  Running a script's statements one by one through SPI, as the calling
 *	  user, so that an error can be traced to the statement's file and line;
 *	  and pg_migrate's own queries through SPI.
 *
 * Running the whole file in one SPI_execute() would be simpler, but an
 * error without a position (a duplicate key, a RAISE) could then not be
 * traced to a statement.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "parser/parser.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "util/compat.h"
#include "exec/exec.h"

static int	body_error_line(const Script *script, const Statement *stmt,
							const char *sql, ErrorData *edata, int block_line);
static void run_statement(ScriptErrorContext *ctx, const Statement *stmt,
						  const char *sql, statement_runner run,
						  ExecReport *report);
static void keep_timeout_at_most(const char *name, int value, int ceiling);
static RangeVar *statement_relation(Node *parsetree);

/* the text of the script's statement running now, for the DDL log */
static const char *current_statement = NULL;

/* An internal query's plan (SPI_prepare_cursor()), or an error naming it */
SPIPlanPtr
spi_prepare(const char *query, int nargs, Oid *types, int cursor_options)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(query, nargs, types, cursor_options);

	if (plan == NULL)
		elog(ERROR, "could not prepare internal query: %s: %s",
			 SPI_result_code_string(SPI_result), query);
	return plan;
}

/*
 * Run one of pg_migrate's own queries through SPI, with parameters, and
 * insist on the expected result.  The plan is generic: a custom one would
 * copy each parameter into a constant, and a migration's script, recorded
 * as a parameter, can be hundreds of megabytes.  SPI returns in its
 * procedure context, which lives for the whole call, so the caller's
 * context is restored.
 */
void
spi_run(const char *query, int nargs, Oid *types, Datum *values,
		const char *nulls, int expected)
{
	MemoryContext cxt = CurrentMemoryContext;
	SPIPlanPtr	plan;
	int			rc;

	plan = spi_prepare(query, nargs, types, CURSOR_OPT_GENERIC_PLAN);
	rc = SPI_execute_plan(plan, values, nulls, false, 0);
	SPI_freeplan(plan);
	MemoryContextSwitchTo(cxt);
	if (rc != expected)
		elog(ERROR, "internal query failed: %s: %s", SPI_result_code_string(rc),
			 query);
}

/* The first column of the rows the last SPI query returned, as strings */
List *
spi_first_column(void)
{
	List	   *result = NIL;

	for (uint64 i = 0; i < SPI_processed; i++)
		result = lappend(result, SPI_getvalue(SPI_tuptable->vals[i],
											  SPI_tuptable->tupdesc, 1));
	SPI_freetuptable(SPI_tuptable);
	return result;
}

/*
 * Run fn(arg) with the server's statement timer armed at deadline (when
 * not 0), unless the session's statement_timeout, which the same timer
 * enforces for the whole call, comes first; the session's is armed again
 * afterwards, however fn ends.
 */
void
run_until_deadline(TimestampTz deadline, void (*fn) (void *arg), void *arg)
{
	bool		session_armed = get_timeout_active(STATEMENT_TIMEOUT);
	TimestampTz session_deadline = 0;

	if (session_armed)
		session_deadline = get_timeout_finish_time(STATEMENT_TIMEOUT);
	if (deadline != 0 && (!session_armed || deadline < session_deadline))
		enable_timeout_at(STATEMENT_TIMEOUT, deadline);
	PG_TRY();
	{
		fn(arg);
	}
	PG_FINALLY();
	{
		if (session_armed)
			enable_timeout_at(STATEMENT_TIMEOUT, session_deadline);
		else
			disable_timeout(STATEMENT_TIMEOUT, false);
	}
	PG_END_TRY();
}

typedef struct SpiCall
{
	const char *sql;
	int			rc;
} SpiCall;

static void
spi_execute_call(void *arg)
{
	SpiCall    *call = arg;

	call->rc = SPI_execute(call->sql, false, 0);
}

/*
 * Run one statement through SPI.  migrate.statement_timeout, when set,
 * limits each statement rather than the whole call.
 */
void
execute_spi_statement(const Statement *stmt, const char *sql,
					  ExecReport *report)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			rc;

	if (migrate_statement_timeout > 0)
	{
		SpiCall		call = {sql, 0};

		run_until_deadline(TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   migrate_statement_timeout),
						   spi_execute_call, &call);
		rc = call.rc;
	}
	else
		rc = SPI_execute(sql, false, 0);
	/* SPI leaves us in its procedure context, which lives for the call */
	MemoryContextSwitchTo(cxt);
	if (rc < 0)
		elog(ERROR, "could not run statement: %s", SPI_result_code_string(rc));
	SPI_freetuptable(SPI_tuptable);
}

/*
 * The table a statement names, when it names one it locks: the one it
 * alters, indexes, locks, truncates, drops, renames, refreshes, or whose
 * rows it changes.  A statement may lock others too (the table a foreign
 * key references, say): this is what a NOTICE can name, not a diagnosis.
 */
static RangeVar *
statement_relation(Node *parsetree)
{
	switch (nodeTag(parsetree))
	{
		case T_AlterTableStmt:
			return ((AlterTableStmt *) parsetree)->relation;
		case T_IndexStmt:
			return ((IndexStmt *) parsetree)->relation;
		case T_ReindexStmt:
			return ((ReindexStmt *) parsetree)->relation;
		case T_LockStmt:
			return linitial_node(RangeVar, ((LockStmt *) parsetree)->relations);
		case T_TruncateStmt:
			return linitial_node(RangeVar, ((TruncateStmt *) parsetree)->relations);
		case T_RenameStmt:
			return ((RenameStmt *) parsetree)->relation;
		case T_CreateTrigStmt:
			return ((CreateTrigStmt *) parsetree)->relation;
		case T_RuleStmt:
			return ((RuleStmt *) parsetree)->relation;
		case T_ClusterStmt:
			return ((ClusterStmt *) parsetree)->relation;
		case T_RefreshMatViewStmt:
			return ((RefreshMatViewStmt *) parsetree)->relation;
		case T_InsertStmt:
			return ((InsertStmt *) parsetree)->relation;
		case T_UpdateStmt:
			return ((UpdateStmt *) parsetree)->relation;
		case T_DeleteStmt:
			return ((DeleteStmt *) parsetree)->relation;
		case T_DropStmt:
			{
				DropStmt   *drop = (DropStmt *) parsetree;

				if (drop->removeType != OBJECT_INDEX &&
					drop->removeType != OBJECT_TABLE &&
					drop->removeType != OBJECT_VIEW &&
					drop->removeType != OBJECT_MATVIEW &&
					drop->removeType != OBJECT_SEQUENCE &&
					drop->removeType != OBJECT_FOREIGN_TABLE)
					return NULL;
				return makeRangeVarFromNameList(linitial(drop->objects));
			}
		default:
			return NULL;
	}
}

/*
 * Note, for the NOTICE of a lock retry or the error after the last one,
 * where a statement (sql, at line of the script running) waited for a
 * lock in vain: its line, the lock_timeout in force (which is the
 * migration's only until its (sub)transaction ends), and the table it
 * names.  The statement parsed
 * when it ran, and parses again; the caller is not in an error's
 * handling.
 */
void
exec_note_lock_wait(ExecReport *report, const char *sql, int line)
{
	List	   *raw = compat_raw_parser(sql);
	RangeVar   *rv = NULL;

	report->lock_line = line;
	report->lock_timeout = LockTimeout;
	report->lock_relation[0] = '\0';
	if (list_length(raw) == 1)
		rv = statement_relation(linitial_node(RawStmt, raw)->stmt);
	if (rv != NULL && rv->relname != NULL)
		snprintf(report->lock_relation, sizeof(report->lock_relation), "%s",
				 quote_qualified_identifier(rv->schemaname, rv->relname));
}

/*
 * The file line of an error raised inside a DO block or function body.
 * PL/pgSQL positions compile errors within the body (the error's internal
 * query is then the body itself); for a runtime error in a DO block,
 * plpgsql_lines.c noted the line within the block of the statement that
 * failed.  Both are relative to where the body starts in the file.
 */
static int
body_error_line(const Script *script, const Statement *stmt,
				const char *sql, ErrorData *edata, int block_line)
{
	const char *body;

	if (stmt->body_offset < 0)	/* body written as a quoted literal */
		return stmt->line;
	body = sql + (stmt->body_offset - stmt->offset);

	if (edata->internalquery && edata->internalpos > 0 &&
		strlen(edata->internalquery) == stmt->body_len &&
		strncmp(edata->internalquery, body, stmt->body_len) == 0)
		return script_line_at(script, stmt->body_offset +
							  script_chars_to_bytes(body, edata->internalpos - 1));

	if (block_line > 0)
		return script_line_at(script, stmt->body_offset) + block_line - 1;

	return stmt->line;
}

/*
 * Run one statement, and when it fails, note the file line of the error as
 * data (report->error_line) for the failure's history row: a number, not
 * text to parse back out of the error's (translated) context.  For statements
 * outside function bodies the error context callback placed the error
 * (ctx->reported_line); errors inside a body are placed here, since the
 * callback sees neither the internal query nor PL/pgSQL's line.
 */
static void
run_statement(ScriptErrorContext *ctx, const Statement *stmt, const char *sql,
			  statement_runner run, ExecReport *report)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	volatile bool do_block = stmt->kind == STMT_DO_BLOCK;

	if (do_block)
		plpgsql_lines_start();
	current_statement = sql;
	PG_TRY();
	{
		run(stmt, sql, report);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			block_line = do_block ? plpgsql_lines_stop() : 0;

		current_statement = NULL;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();

		if (!ctx->body_pending)
			report->error_line = ctx->reported_line;
		else
		{
			report->error_line = body_error_line(ctx->script, stmt, sql, edata,
												 block_line);
			edata->context = edata->context ?
				psprintf("%s\nmigration %s, line %d", edata->context,
						 ctx->script->file, report->error_line) :
				psprintf("migration %s, line %d", ctx->script->file,
						 report->error_line);
		}
		if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
			exec_note_lock_wait(report, sql,
								report->error_line > 0 ? report->error_line : stmt->line);
		ReThrowError(edata);
	}
	PG_END_TRY();
	current_statement = NULL;
	if (do_block)
		(void) plpgsql_lines_stop();
}

/*
 * The statement of a migration's script that execute_script() is running,
 * or NULL: the DDL log records it rather than the client's query, which
 * is the call of migrate.apply() or migrate.run().
 */
const char *
exec_current_statement(void)
{
	return current_statement;
}

/*
 * Put a timeout setting back to its ceiling when a statement lifted it (0)
 * or raised it above.  It is a plain SET, as the script's own was: within
 * a transaction the caller has opened a GUC nest level for the script,
 * whose end undoes both.  A save action would be wrong there, since the
 * script's SET already holds that level's entry for the setting (an
 * assertion in guc.c says so).  Between the worker's top-level statements
 * the setting is the worker session's own.
 */
static void
keep_timeout_at_most(const char *name, int value, int ceiling)
{
	if (ceiling <= 0 || (value > 0 && value <= ceiling))
		return;
	(void) set_config_option(name, psprintf("%d", ceiling),
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SET,
							 true, 0, false);
}

/*
 * Run statements (from script_split) one by one with the given runner:
 * execute_spi_statement() in the caller's SPI connection, or a top-level
 * runner in the background worker; observer, when given, sees each
 * statement before and after it runs (a down script being generated).  Each statement's text is copied out of
 * the script in a memory context of its own, reset after it ran.
 *
 * The timeouts in force when the script starts (migrate.lock_timeout and
 * migrate.statement_timeout, as the caller applied them, or the session's)
 * are what the operator allows: a statement of the script may shorten
 * them for the statements after it, but one that lengthens or lifts them
 * (SET lock_timeout, RESET ALL, set_config()) is overridden before the
 * next statement runs.
 */
void
execute_script(const Script *script, const StatementList *statements,
			   statement_runner run, const StatementObserver *observer,
			   ExecReport *report)
{
	ScriptErrorContext ctx;
	MemoryContext stmt_cxt = AllocSetContextCreate(CurrentMemoryContext,
												   "pg_migrate statement",
												   ALLOCSET_DEFAULT_SIZES);
	int			lock_ceiling = LockTimeout;
	int			statement_ceiling = StatementTimeout;
	int			migrate_statement_ceiling = migrate_statement_timeout;

	report->error_line = 0;
	report->file = script->file;
	script_error_push(&ctx, script);
	for (int i = 0; i < statements->count; i++)
	{
		const Statement *stmt = &statements->items[i];
		MemoryContext old;
		char	   *sql;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(stmt_cxt);
		keep_timeout_at_most("lock_timeout", LockTimeout, lock_ceiling);
		keep_timeout_at_most("statement_timeout", StatementTimeout,
							 statement_ceiling);
		keep_timeout_at_most("migrate.statement_timeout",
							 migrate_statement_timeout,
							 migrate_statement_ceiling);
		sql = script_statement_text(script, stmt);
		ctx.stmt = stmt;
		ctx.sql = sql;
		ctx.line = stmt->line;
		ctx.reported_line = 0;
		ctx.body_pending = stmt->kind == STMT_DO_BLOCK ||
			stmt->kind == STMT_FUNCTION_BODY;
		progress_set_statement(i + 1, statements->count, stmt->line,
							   script->file);
		if (observer)
			observer->before(observer->arg, stmt, sql);
		run_statement(&ctx, stmt, sql, run, report);
		if (observer)
			observer->after(observer->arg, stmt, sql);
		MemoryContextSwitchTo(old);
		MemoryContextReset(stmt_cxt);
	}
	script_error_pop(&ctx);
	MemoryContextDelete(stmt_cxt);
}
