/*-------------------------------------------------------------------------
 *
 * execute.c
 *	  Running a script's statements one by one through SPI, as the calling
 *	  user, so that an error can be traced to the statement's file and line.
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

#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timeout.h"

#include "pg_migrate.h"

static void run_body_statement(const Script *script, const Statement *stmt,
							   const char *sql, statement_runner run);
static int	body_error_line(const Script *script, const Statement *stmt,
							const char *sql, ErrorData *edata);

/*
 * Run one statement through SPI.  migrate.statement_timeout, when set,
 * limits each statement rather than the whole call.
 */
void
execute_spi_statement(const Statement *stmt, const char *sql)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			rc;

	if (migrate_statement_timeout > 0)
		enable_timeout_after(STATEMENT_TIMEOUT, migrate_statement_timeout);
	rc = SPI_execute(sql, false, 0);
	if (migrate_statement_timeout > 0)
		disable_timeout(STATEMENT_TIMEOUT, false);
	/* SPI leaves us in its procedure context, which lives for the call */
	MemoryContextSwitchTo(cxt);
	if (rc < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not run statement: %s",
						SPI_result_code_string(rc))));
	SPI_freetuptable(SPI_tuptable);
}

/*
 * The file line of an error raised inside a DO block or function body.
 * PL/pgSQL positions compile errors within the body (the error's internal
 * query is then the body itself), and names the body's line of runtime
 * errors in its context ("inline_code_block line 4"); both are relative to
 * where the body starts in the file.
 */
static int
body_error_line(const Script *script, const Statement *stmt,
				const char *sql, ErrorData *edata)
{
	const char *body;
	const char *frame;
	int			body_line;

	if (stmt->body_offset < 0)	/* body written as a quoted literal */
		return stmt->line;
	body = sql + (stmt->body_offset - stmt->offset);

	if (edata->internalquery && edata->internalpos > 0 &&
		strlen(edata->internalquery) == stmt->body_len &&
		strncmp(edata->internalquery, body, stmt->body_len) == 0)
		return script_line_at(script, stmt->body_offset +
							  script_chars_to_bytes(body, edata->internalpos - 1));

	if (stmt->kind == STMT_DO_BLOCK && edata->context &&
		(frame = strstr(edata->context, "inline_code_block line ")) != NULL &&
		sscanf(frame, "inline_code_block line %d", &body_line) == 1)
		return script_line_at(script, stmt->body_offset) + body_line - 1;

	return stmt->line;
}

/*
 * Errors inside a function body cannot be placed from an error context
 * callback, which sees neither the internal query nor the context built so
 * far; so catch the error, work the line out, and raise it again.
 */
static void
run_body_statement(const Script *script, const Statement *stmt,
				   const char *sql, statement_runner run)
{
	MemoryContext oldcontext = CurrentMemoryContext;

	PG_TRY();
	{
		run(stmt, sql);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			line;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();

		line = body_error_line(script, stmt, sql, edata);
		edata->context = edata->context ?
			psprintf("%s\nmigration %s, line %d", edata->context,
					 script->file, line) :
			psprintf("migration %s, line %d", script->file, line);
		ReThrowError(edata);
	}
	PG_END_TRY();
}

/*
 * Run statements (from script_split) one by one with the given runner:
 * execute_spi_statement() in the caller's SPI connection, or a top-level
 * runner in the background worker.  Each statement's text is copied out of
 * the script in a memory context of its own, reset after it ran.
 */
void
execute_script(const Script *script, const StatementList *statements,
			   statement_runner run)
{
	ScriptErrorContext ctx;
	MemoryContext stmt_cxt = AllocSetContextCreate(CurrentMemoryContext,
												   "pg_migrate statement",
												   ALLOCSET_DEFAULT_SIZES);

	script_error_push(&ctx, script);
	for (int i = 0; i < statements->count; i++)
	{
		const Statement *stmt = &statements->items[i];
		MemoryContext old;
		char	   *sql;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(stmt_cxt);
		sql = script_statement_text(script, stmt);
		ctx.stmt = stmt;
		ctx.sql = sql;
		ctx.line = stmt->line;
		ctx.body_pending = stmt->kind == STMT_DO_BLOCK ||
			stmt->kind == STMT_FUNCTION_BODY;
		if (ctx.body_pending)
			run_body_statement(script, stmt, sql, run);
		else
			run(stmt, sql);
		MemoryContextSwitchTo(old);
		MemoryContextReset(stmt_cxt);
	}
	script_error_pop(&ctx);
	MemoryContextDelete(stmt_cxt);
}
