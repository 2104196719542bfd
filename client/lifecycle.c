/*-------------------------------------------------------------------------
 *
 * lifecycle.c
 *	  The pg_migrate command's subcommands around a deploy, each one call of
 *	  the extension's SQL function of the same name: lint, plan and check,
 *	  which judge a folder and change nothing, and baseline, mark-applied,
 *	  forget, accept and retry, which change what the database recorded
 *	  without running a migration.
 *
 *	  pg_migrate lint DIR                migrate.lint
 *	  pg_migrate plan DIR                migrate.plan
 *	  pg_migrate check DIR               migrate.check
 *	  pg_migrate baseline DIR UP_TO      migrate.baseline
 *	  pg_migrate mark-applied DIR NAME   migrate.mark_applied
 *	  pg_migrate forget NAME             migrate.forget
 *	  pg_migrate accept DIR NAME         migrate.accept
 *	  pg_migrate retry NAME              migrate.retry
 *
 * Each prints its rows as status does (a line per row, a one-line
 * summary), or with --json the rows as the server made them into JSON
 * (row_to_json), so that every column is there under its SQL name.
 * Reference: doc/pg_migrate-command.md.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "getopt_long.h"

#include "client.h"

typedef struct LifecycleCommand
{
	const char *command;
	const char *function;		/* the SQL function it calls */
	bool		dir;			/* takes the folder DIR */
	const char *arg;			/* the function's argument NAME goes to, or
								 * NULL */
	const char *arg_label;		/* how usage names it */
} LifecycleCommand;

static const LifecycleCommand lifecycle_commands[] = {
	{"lint", "migrate.lint", true, NULL, NULL},
	{"plan", "migrate.plan", true, NULL, NULL},
	{"check", "migrate.check", true, NULL, NULL},
	{"baseline", "migrate.baseline", true, "up_to", "UP_TO"},
	{"mark-applied", "migrate.mark_applied", true, "name", "NAME"},
	{"forget", "migrate.forget", false, "name", "NAME"},
	{"accept", "migrate.accept", true, "name", "NAME"},
	{"retry", "migrate.retry", false, "name", "NAME"},
};

static const LifecycleCommand *find_command(const char *command);
static int	command_lint(PGconn *conn, const Options *opts, const char *files,
						 const char *source);
static int	command_plan(PGconn *conn, const Options *opts, const char *files,
						 const char *source);
static int	command_check(PGconn *conn, const Options *opts, const char *files,
						  const char *source);
static int	command_record(PGconn *conn, const Options *opts, const char *files,
						   const char *source, const LifecycleCommand *cmd);

static const LifecycleCommand *
find_command(const char *command)
{
	for (int i = 0; i < lengthof(lifecycle_commands); i++)
		if (strcmp(command, lifecycle_commands[i].command) == 0)
			return &lifecycle_commands[i];
	return NULL;
}

bool
lifecycle_command(const char *command)
{
	return find_command(command) != NULL;
}

/*
 * The arguments of a lifecycle command, from argv[optind]: DIR and NAME
 * as it takes them.  Returns NULL, or what is wrong (a usage error).
 */
const char *
lifecycle_arguments(int argc, char **argv, Options *opts)
{
	const LifecycleCommand *cmd = find_command(opts->command);

	if (cmd->dir && optind < argc)
		opts->dir = argv[optind++];
	if (cmd->arg && optind < argc)
		opts->name = argv[optind++];
	if ((cmd->dir && opts->dir == NULL) || (cmd->arg && opts->name == NULL))
		return psprintf("%s needs %s%s%s", cmd->command,
						cmd->dir ? "the migrations folder DIR" : "",
						cmd->dir && cmd->arg ? " and " : "",
						cmd->arg ? cmd->arg_label : "");
	if (optind < argc)
		return psprintf("too many arguments: \"%s\"", argv[optind]);
	if (!cmd->dir && (opts->server_dir || strcmp(opts->format, "auto") != 0))
		return psprintf("%s takes no folder: it changes what the database recorded of NAME",
						cmd->command);
	if (opts->check || opts->allow_drift || opts->skip_partial || opts->target)
		return psprintf("%s takes no --check, --allow-drift, --skip-partial or --target",
						cmd->command);
	return NULL;
}

int
command_lifecycle(PGconn *conn, const Options *opts, const char *files,
				  const char *source)
{
	const LifecycleCommand *cmd = find_command(opts->command);

	if (strcmp(cmd->command, "lint") == 0)
		return command_lint(conn, opts, files, source);
	if (strcmp(cmd->command, "plan") == 0)
		return command_plan(conn, opts, files, source);
	if (strcmp(cmd->command, "check") == 0)
		return command_check(conn, opts, files, source);
	return command_record(conn, opts, files, source, cmd);
}

/*
 * lint: a line per finding, "migration  severity  file:line  rule:
 * message"; 1 when a finding is an error (a statement that will fail)
 */
static int
command_lint(PGconn *conn, const Options *opts, const char *files,
			 const char *source)
{
	static const char *const severities[] = {"error", "warning"};
	PGresult   *res;
	int			width;
	int			rc = EXIT_OK;

	res = call_folder(conn, opts, files, source,
					  "migration, severity, file, line, rule, message,"
					  " pg_catalog.row_to_json(s)::pg_catalog.text",
					  "migrate.lint", NULL);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return call_failed(conn, res);

	width = name_width(res);
	output_begin_rows();
	for (int i = 0; i < PQntuples(res); i++)
	{
		char	   *rest = psprintf("%-7s  %s%s%s  %s: %s", PQgetvalue(res, i, 1),
									PQgetvalue(res, i, 2),
									PQgetisnull(res, i, 3) ? "" : ":",
									PQgetvalue(res, i, 3),
									PQgetvalue(res, i, 4), PQgetvalue(res, i, 5));

		output_row(PQgetvalue(res, i, 0), width, rest, PQgetvalue(res, i, 6));
		pfree(rest);
		if (strcmp(PQgetvalue(res, i, 1), "error") == 0)
			rc = EXIT_FAILED;
	}
	output_end_rows();
	count_summary(res, 1, severities, lengthof(severities), "finding", "findings",
				  "no findings");
	PQclear(res);
	return rc;
}

/*
 * plan: a line per statement, "migration  file:line  command  what it
 * did"; 1 when a statement failed (the migration would fail)
 */
static int
command_plan(PGconn *conn, const Options *opts, const char *files,
			 const char *source)
{
	PGresult   *res;
	int			width;
	int			n;
	int			executed = 0,
				failed = 0,
				skipped = 0;
	StringInfoData rest;
	StringInfoData counts;

	res = call_folder(conn, opts, files, source,
					  "migration, file, line, command, executed,"
					  " pg_catalog.array_to_string(locks, ', '), rewrite, relation,"
					  " pg_catalog.date_part('epoch', duration),"
					  " pg_catalog.array_to_string(findings, '; '), error, note,"
					  " pg_catalog.json_build_object('migration', migration, 'file', file,"
					  " 'line', line, 'command', command, 'executed', executed,"
					  " 'locks', locks, 'rewrite', rewrite, 'relation', relation,"
					  " 'table_rows', table_rows, 'table_size', table_size,"
					  " 'duration', pg_catalog.date_part('epoch', duration),"
					  " 'findings', findings, 'error', error, 'note', note)::pg_catalog.text",
					  "migrate.plan", NULL);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return call_failed(conn, res);

	n = PQntuples(res);
	width = name_width(res);
	initStringInfo(&rest);
	output_begin_rows();
	for (int i = 0; i < n; i++)
	{
		resetStringInfo(&rest);
		appendStringInfo(&rest, "%s%s%s  %s  ", PQgetvalue(res, i, 1),
						 PQgetisnull(res, i, 2) ? "" : ":", PQgetvalue(res, i, 2),
						 PQgetisnull(res, i, 3) ? "-" : PQgetvalue(res, i, 3));
		if (!PQgetisnull(res, i, 10))
		{
			appendStringInfo(&rest, "error: %s", PQgetvalue(res, i, 10));
			failed++;
		}
		else if (strcmp(PQgetvalue(res, i, 4), "t") != 0)
		{
			/* the note says "not executed: why" */
			appendStringInfoString(&rest, PQgetisnull(res, i, 11) ? "not executed" :
								   PQgetvalue(res, i, 11));
			skipped++;
		}
		else
		{
			const char *locks = PQgetvalue(res, i, 5);

			appendStringInfo(&rest, "%s%s", locks[0] ? "locks " : "no locks", locks);
			if (strcmp(PQgetvalue(res, i, 6), "t") == 0)
				appendStringInfo(&rest, ", rewrites %s", PQgetvalue(res, i, 7));
			appendStringInfo(&rest, " (%s)",
							 output_duration(strtod(PQgetvalue(res, i, 8), NULL)));
			if (!PQgetisnull(res, i, 11))
				appendStringInfo(&rest, "; %s", PQgetvalue(res, i, 11));
			executed++;
		}
		if (!PQgetisnull(res, i, 9) && PQgetvalue(res, i, 9)[0])
			appendStringInfo(&rest, "; lint: %s", PQgetvalue(res, i, 9));
		output_row(PQgetvalue(res, i, 0), width, rest.data, PQgetvalue(res, i, 12));
	}
	output_end_rows();

	initStringInfo(&counts);
	if (executed)
		appendStringInfo(&counts, "%d executed", executed);
	if (failed)
		appendStringInfo(&counts, "%s%d failed", counts.len ? ", " : "", failed);
	if (skipped)
		appendStringInfo(&counts, "%s%d not executed", counts.len ? ", " : "", skipped);
	if (n == 0)
		output_summary("nothing to plan");
	else
		output_summary("%d %s: %s (all rolled back)", n,
					   n == 1 ? "statement" : "statements", counts.data);
	pfree(rest.data);
	pfree(counts.data);
	PQclear(res);
	return failed ? EXIT_FAILED : EXIT_OK;
}

/*
 * check: nothing when every migration of DIR is applied as it is; when
 * not (the server's 55000, with the list in its detail), status 3, as
 * status --check, so that a pipeline tells "not up to date" from a check
 * that could not be made (1, or 2 for a server folder that cannot be
 * read).  --json: [{"up_to_date": ...}], with the message and detail when
 * false.
 */
static int
command_check(PGconn *conn, const Options *opts, const char *files,
			  const char *source)
{
	PGresult   *res;
	const char *sqlstate;
	StringInfoData json;
	int			rc;

	res = call_folder(conn, opts, files, source, "1", "migrate.check", NULL);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		output_begin_rows();
		if (opts->json)
			output_row("", 0, "", "{\"up_to_date\": true}");
		output_end_rows();
		output_summary("the database is up to date with the folder");
		PQclear(res);
		return EXIT_OK;
	}
	sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (sqlstate == NULL || strcmp(sqlstate, "55000") != 0)
		return call_failed(conn, res);

	rc = output_server_error(conn, res);
	initStringInfo(&json);
	appendStringInfoString(&json, "{\"up_to_date\": false, \"message\": ");
	json_append_string(&json, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY),
					   strlen(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)), -1);
	appendStringInfoString(&json, ", \"detail\": ");
	if (PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL))
		json_append_string(&json, PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL),
						   strlen(PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL)), -1);
	else
		appendStringInfoString(&json, "null");
	appendStringInfoChar(&json, '}');
	output_begin_rows();
	if (opts->json)
		output_row("", 0, "", json.data);
	output_end_rows();
	pfree(json.data);
	PQclear(res);
	return rc == EXIT_FAILED ? EXIT_NOT_READY : rc;
}

/*
 * baseline, mark-applied, forget, accept and retry: a line per migration
 * recorded, "name  action", and the count of each action.  retry returns
 * nothing: its line is made here, from NAME ($1 when there is no folder).
 */
static int
command_record(PGconn *conn, const Options *opts, const char *files,
			   const char *source, const LifecycleCommand *cmd)
{
	static const char *const actions[] = {"baselined", "marked applied",
	"forgotten", "accepted", "retry"};
	bool		retry = strcmp(cmd->command, "retry") == 0;
	PGresult   *res;
	int			width;

	res = call_folder(conn, opts, files, source,
					  retry ?
					  "$1::pg_catalog.text, 'retry',"
					  " pg_catalog.json_build_object('name', $1::pg_catalog.text,"
					  " 'action', 'retry')::pg_catalog.text" :
					  "name, action, pg_catalog.row_to_json(s)::pg_catalog.text",
					  cmd->function, cmd->arg);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return call_failed(conn, res);

	width = name_width(res);
	output_begin_rows();
	for (int i = 0; i < PQntuples(res); i++)
		output_row(PQgetvalue(res, i, 0), width, PQgetvalue(res, i, 1),
				   PQgetvalue(res, i, 2));
	output_end_rows();
	if (retry)
		output_summary("migration \"%s\" runs again at the next apply or run", opts->name);
	else
		count_summary(res, 1, actions, lengthof(actions), "migration", "migrations",
					  strcmp(cmd->command, "accept") == 0 ?
					  "nothing to accept: the files are as recorded" : "nothing recorded");
	PQclear(res);
	return EXIT_OK;
}
