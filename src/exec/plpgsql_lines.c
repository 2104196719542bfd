/*-------------------------------------------------------------------------
 *
 * plpgsql_lines.c
 *	  The line of the DO block statement that is running, as data.
 *
 * An error inside a DO block names its line only in PL/pgSQL's error
 * context ("PL/pgSQL function inline_code_block line 4 at RAISE"), which
 * is translated under a non-English lc_messages.  While pg_migrate runs a
 * DO block, it installs a PL/pgSQL instrumentation plugin (the hook that
 * debuggers and profilers use) that notes the line of each statement the
 * block itself starts, so that an error is placed by number, not by text.
 *
 * Only one plugin can be installed in a backend; when another one (a
 * debugger, plpgsql_check) already is, nothing is installed and errors
 * are placed at the DO statement's own line.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "plpgsql.h"

#include "exec/exec.h"

static void lines_func_beg(PLpgSQL_execstate *estate, PLpgSQL_function *func);
static void lines_func_end(PLpgSQL_execstate *estate, PLpgSQL_function *func);
static void lines_stmt_beg(PLpgSQL_execstate *estate, PLpgSQL_stmt *stmt);

static PLpgSQL_plugin lines_plugin = {
	.func_beg = lines_func_beg,
	.func_end = lines_func_end,
	.stmt_beg = lines_stmt_beg,
};

static PLpgSQL_plugin **plugin_ptr = NULL;
static bool installed = false;
static int	depth = 0;			/* nesting of PL/pgSQL functions */
static int	block_line = 0;		/* of the latest statement of the block */

static void
lines_func_beg(PLpgSQL_execstate *estate, PLpgSQL_function *func)
{
	depth++;
}

static void
lines_func_end(PLpgSQL_execstate *estate, PLpgSQL_function *func)
{
	depth--;
}

/* Statements of functions the block calls are not lines of the file */
static void
lines_stmt_beg(PLpgSQL_execstate *estate, PLpgSQL_stmt *stmt)
{
	if (depth == 1 && stmt->lineno > 0)
		block_line = stmt->lineno;
}

/* Start noting lines, before a DO block of a migration runs */
void
plpgsql_lines_start(void)
{
	if (plugin_ptr == NULL)
		plugin_ptr = (PLpgSQL_plugin **) find_rendezvous_variable("PLpgSQL_plugin");
	depth = 0;
	block_line = 0;
	installed = (*plugin_ptr == NULL);
	if (installed)
		*plugin_ptr = &lines_plugin;
}

/*
 * Stop, after the block ran or failed; returns the line within the block
 * of the statement that ran last (0 when unknown).
 */
int
plpgsql_lines_stop(void)
{
	if (installed && *plugin_ptr == &lines_plugin)
		*plugin_ptr = NULL;
	installed = false;
	return block_line;
}
