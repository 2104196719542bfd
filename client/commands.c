/*-------------------------------------------------------------------------
 *
 * commands.c
 *	  The pg_migrate command's subcommands: each one call of the extension's
 *	  SQL functions, and what its result or error means.
 *
 * A folder read on the client goes as the files jsonb forms' argument,
 * with the folder's source ("client:<host>:<path>"); with --server-dir the
 * text forms read the folder on the server.  Progress comes from the
 * runner's messages, received as they arrive: the NOTICE it raises before
 * each attempt at a migration ("applying migration ..."), shown while the
 * migration runs, and, for run, which commits each migration, the DEBUG1
 * message it raises once a migration is committed (SQLSTATE
 * ERRCODE_MIGRATE_COMMITTED, the name in the detail), which alone prints
 * the migration's line: an attempt can be retried after a lock timeout,
 * or fail.  apply and rollback print their result rows, with the
 * durations the server measured.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <unistd.h>

#include "client.h"

typedef enum ProgressKind
{
	PROGRESS_NONE,				/* any other notice */
	PROGRESS_APPLYING,
	PROGRESS_ADOPTING,			/* a migration the folder's tool applied */
	PROGRESS_ROLLING_BACK
} ProgressKind;

/*
 * The runner's messages for clients (src/run/run.h): DEBUG1, class 00,
 * what they are about in the detail
 */
#define SQLSTATE_COMMITTED	"00M01"
#define SQLSTATE_ADOPTED	"00M02"
#define SQLSTATE_TOOL		"00M03"

/* What a call has done so far, as its notices tell */
typedef struct CallProgress
{
	bool		print_each;		/* run: a line per migration as it commits */
	char	   *current;		/* the migration running, or NULL */
	double		started;		/* when its first attempt started */
	int			done;			/* migrations committed */
	char	   *tool;			/* the tool that applied what is adopted */
	int			min_rank;		/* the least severity the caller wants shown */
} CallProgress;

/* The one call running, for print_action_rows() */
static const CallProgress *running_call;

static bool runner_file(const char *file);
static ProgressKind classify_notice(const PGresult *res, char **name);
static bool runner_message(const PGresult *res, const char *sqlstate);
static int	severity_rank(const char *severity);
static void receive_notice(void *arg, const PGresult *res);
static void want_messages(PGconn *conn, CallProgress *progress);
static PGresult *call(PGconn *conn, const char *sql, int nparams,
					  const char *const *values, CallProgress *progress,
					  bool print_each);
static const char *target_argument(const Options *opts, int n);
static int	print_action_rows(const PGresult *res);
static void run_failure_summary(const CallProgress *progress);
static int	status_exit(const PGresult *res, bool check);
static void status_summary(const PGresult *res);

/*
 * Whether a message was raised by the server's run layer (src/run/): the
 * files that announce a migration applied, adopted or rolled back
 */
static bool
runner_file(const char *file)
{
	return file != NULL &&
		(strcmp(file, "migration.c") == 0 || strcmp(file, "run.c") == 0 ||
		 strcmp(file, "rollback.c") == 0);
}

/*
 * Which migration a notice of the runner announces, if any.  The runner's
 * notices are told from a migration's own (RAISE NOTICE) by the source
 * file and C function that raise them, which do not change with
 * lc_messages; their English text is the fallback.  The name is the
 * quoted part of the message.
 */
static ProgressKind
classify_notice(const PGresult *res, char **name)
{
	const char *file = PQresultErrorField(res, PG_DIAG_SOURCE_FILE);
	const char *func = PQresultErrorField(res, PG_DIAG_SOURCE_FUNCTION);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *open,
			   *close;
	ProgressKind kind = PROGRESS_NONE;

	if (func == NULL || msg == NULL || !runner_file(file))
		return PROGRESS_NONE;
	if (strcmp(func, "apply_one") == 0 ||
		strncmp(msg, "applying migration \"", 20) == 0)
		kind = PROGRESS_APPLYING;
	else if (strcmp(func, "adopt_one") == 0 ||
			 strncmp(msg, "recording migration \"", 21) == 0)
		kind = PROGRESS_ADOPTING;
	else if (strcmp(func, "rollback_one") == 0 ||
			 strncmp(msg, "rolling back migration \"", 24) == 0)
		kind = PROGRESS_ROLLING_BACK;
	open = strchr(msg, '"');
	close = strrchr(msg, '"');
	if (kind == PROGRESS_NONE || open == NULL || close <= open)
		return PROGRESS_NONE;
	*name = pnstrdup(open + 1, close - open - 1);
	return kind;
}

/*
 * Whether res is the runner's message with this SQLSTATE and a detail.
 * The source file tells it from a migration's own RAISE ... USING ERRCODE.
 */
static bool
runner_message(const PGresult *res, const char *sqlstate)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *file = PQresultErrorField(res, PG_DIAG_SOURCE_FILE);

	return state != NULL && strcmp(state, sqlstate) == 0 &&
		runner_file(file) &&
		PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) != NULL;
}

/*
 * Severities in the order of client_min_messages (INFO is always sent);
 * an unknown one is shown.
 */
static int
severity_rank(const char *severity)
{
	static const char *const ranks[] = {"debug", "log", "notice", "warning", "error"};

	if (severity == NULL)
		return lengthof(ranks);
	for (int i = 0; i < lengthof(ranks); i++)
		if (pg_strncasecmp(severity, ranks[i], strlen(ranks[i])) == 0)
			return i;
	return lengthof(ranks);
}

static void
receive_notice(void *arg, const PGresult *res)
{
	CallProgress *progress = arg;
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	char	   *name = NULL;
	ProgressKind kind;
	bool		adopted;

	if ((adopted = runner_message(res, SQLSTATE_ADOPTED)) ||
		runner_message(res, SQLSTATE_COMMITTED))
	{
		bool		timed = progress->current && strcmp(progress->current, detail) == 0;

		if (progress->print_each)
			output_migration(detail, adopted ? "adopted" : "applied",
							 timed ? output_now() - progress->started : 0,
							 progress->tool);
		progress->done++;
		if (timed)
		{
			free(progress->current);
			progress->current = NULL;
		}
		return;
	}
	if (runner_message(res, SQLSTATE_TOOL))
	{
		free(progress->tool);
		progress->tool = pg_strdup(detail);
		return;
	}

	kind = classify_notice(res, &name);
	if (kind == PROGRESS_NONE)
	{
		const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

		/* what the caller's client_min_messages would have let through */
		if (severity == NULL || pg_strcasecmp(severity, "INFO") == 0 ||
			severity_rank(severity) >= progress->min_rank)
			output_notice(res);
		return;
	}
	/* the same migration announced again: its attempt is being retried */
	if (progress->current != NULL && strcmp(progress->current, name) == 0)
		free(name);
	else
	{
		free(progress->current);
		progress->current = name;
		progress->started = output_now();
	}
	output_progress(kind == PROGRESS_ROLLING_BACK ? "rolling back" :
					kind == PROGRESS_ADOPTING ? "recording" : "applying",
					progress->current);
}

/*
 * Have the runner's DEBUG1 messages for clients sent, noting which
 * messages the session was set to receive so that only those are shown.
 * If the setting cannot be changed, the call goes on without them.
 */
static void
want_messages(PGconn *conn, CallProgress *progress)
{
	PGresult   *res = PQexec(conn,
							 "SELECT pg_catalog.current_setting('client_min_messages'),"
							 " pg_catalog.set_config('client_min_messages', 'debug1', false)");

	progress->min_rank = severity_rank("notice");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		progress->min_rank = severity_rank(PQgetvalue(res, 0, 0));
	PQclear(res);
}

/* Run one call, its notices handled as they arrive */
static PGresult *
call(PGconn *conn, const char *sql, int nparams, const char *const *values,
	 CallProgress *progress, bool print_each)
{
	PGresult   *res;

	memset(progress, 0, sizeof(CallProgress));
	progress->print_each = print_each;
	want_messages(conn, progress);
	running_call = progress;
	PQsetNoticeReceiver(conn, receive_notice, progress);
	res = PQexecParams(conn, sql, nparams, NULL, values, NULL, NULL, 0);
	output_progress(NULL, NULL);
	return res;
}

/*
 * ", target => $n" when --target was given: only then, as the text forms
 * of 0.1 (--server-dir) take no target
 */
static const char *
target_argument(const Options *opts, int n)
{
	return opts->target ? psprintf(", target => $%d::pg_catalog.text", n) : "";
}

/* Rows (name, action, seconds) of apply or rollback; returns how many */
static int
print_action_rows(const PGresult *res)
{
	int			n = PQntuples(res);

	output_begin_rows();
	for (int i = 0; i < n; i++)
		output_migration(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
						 strtod(PQgetvalue(res, i, 2), NULL), running_call->tool);
	output_end_rows();
	return n;
}

int
command_apply(PGconn *conn, const Options *opts, const char *files,
			  const char *source)
{
	const char *values[5];
	CallProgress progress;
	PGresult   *res;
	double		started = output_now();
	int			n;

	values[0] = files ? files : opts->dir;
	values[1] = opts->format;
	values[2] = opts->allow_drift ? "true" : "false";
	/* the target, when given, follows the form's last argument */
	values[3] = files ? source : opts->target;
	values[4] = opts->target;
	res = call(conn, psprintf(files ?
							  "SELECT name, action, pg_catalog.date_part('epoch', duration)"
							  " FROM migrate.apply(files => $1::pg_catalog.jsonb,"
							  " format => $2::pg_catalog.text, allow_drift => $3::pg_catalog.bool,"
							  " source => $4::pg_catalog.text%s)" :
							  "SELECT name, action, pg_catalog.date_part('epoch', duration)"
							  " FROM migrate.apply(dir => $1::pg_catalog.text,"
							  " format => $2::pg_catalog.text, allow_drift => $3::pg_catalog.bool%s)",
							  target_argument(opts, files ? 5 : 4)),
			   (files ? 4 : 3) + (opts->target != NULL), values, &progress, false);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		int			rc = output_server_error(conn, res);

		output_begin_rows();
		output_end_rows();
		output_failure_summary("apply failed: nothing was applied (one transaction)");
		PQclear(res);
		return rc;
	}
	n = print_action_rows(res);
	PQclear(res);
	if (n == 0)
		output_summary("nothing to apply");
	else
		output_summary(n == 1 ? "%d migration applied in %s" : "%d migrations applied in %s",
					   n, output_duration(output_now() - started));
	return EXIT_OK;
}

/* Where run stopped, and what stays applied: run commits each migration */
static void
run_failure_summary(const CallProgress *progress)
{
	const char *cancelled = connection_was_interrupted() ? " (cancelled)" : "";

	/* a migration is current from its first notice until it is committed */
	if (progress->current == NULL && progress->done == 0)
		output_failure_summary("run failed before applying anything%s", cancelled);
	else if (progress->current == NULL)
		output_failure_summary(progress->done == 1 ?
							   "run failed%s after applying %d migration, which stays applied" :
							   "run failed%s after applying %d migrations, which stay applied",
							   cancelled, progress->done);
	else if (progress->done == 0)
		output_failure_summary("run stopped at migration \"%s\"%s; nothing was applied before it",
							   progress->current, cancelled);
	else
		output_failure_summary(progress->done == 1 ?
							   "run stopped at migration \"%s\"%s; the migration applied before it stays applied" :
							   "run stopped at migration \"%s\"%s; the %d migrations applied before it stay applied",
							   progress->current, cancelled, progress->done);
}

/*
 * The progress of a run in one line, for a terminal: the migration (n of
 * m), the statement (n of m, its line) and an index build's blocks.
 */
static void
show_run_progress(PGconn *conn, const char *run_id)
{
	const char *values[1] = {run_id};
	PGresult   *res;

	if (!isatty(fileno(stdout)))
		return;
	res = PQexecParams(conn,
					   "SELECT migration, pg_catalog.format('(%s of %s, statement %s of %s, line %s%s)',"
					   " migration_number, migrations, statement_number, statements, statement_line,"
					   " CASE WHEN index_phase IS NOT NULL THEN pg_catalog.format(', %s: %s of %s blocks',"
					   " index_phase, index_blocks_done, index_blocks_total) ELSE '' END)"
					   " FROM migrate.runs WHERE run_id OPERATOR(pg_catalog.=) $1::pg_catalog.int8"
					   " AND migration IS NOT NULL AND statement_number IS NOT NULL",
					   1, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
	{
		char	   *what = psprintf("applying %s", PQgetvalue(res, 0, 0));

		output_progress(what, PQgetvalue(res, 0, 1));
		pfree(what);
	}
	PQclear(res);
}

/*
 * Follow a run the server performs (migrate.start): relay its messages and
 * progress until it ends, with its error as run's own.  The run does not
 * depend on this connection; Ctrl-C and SIGTERM cancel the wait, which
 * then cancels the run (migrate.cancel) and waits for its end.
 */
static int
follow_run(PGconn *conn, const char *run_id, CallProgress *progress,
		   double started)
{
	const char *values[1] = {run_id};
	bool		cancel_sent = false;
	int			rc = EXIT_OK;

	for (;;)
	{
		PGresult   *res;
		const char *state;

		if (connection_was_interrupted() && !cancel_sent)
		{
			PQclear(PQexecParams(conn, "SELECT migrate.cancel($1::pg_catalog.int8)",
								 1, NULL, values, NULL, NULL, 0));
			cancel_sent = true;
		}
		res = PQexecParams(conn, "CALL migrate.wait($1::pg_catalog.int8, '1 second', true)",
						   1, NULL, values, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			/* our own wait cancelled: cancel the run, and wait for its end */
			if (connection_was_interrupted() && !cancel_sent && sqlstate &&
				strcmp(sqlstate, "57014") == 0 && PQstatus(conn) == CONNECTION_OK)
			{
				PQclear(res);
				continue;
			}
			rc = output_server_error(conn, res);
			PQclear(res);
			break;
		}
		state = PQgetvalue(res, 0, 0);
		if (strcmp(state, "queued") != 0 && strcmp(state, "running") != 0)
		{
			PQclear(res);
			break;
		}
		PQclear(res);
		show_run_progress(conn, run_id);
	}
	output_progress(NULL, NULL);
	output_end_rows();

	if (rc == EXIT_OK)
	{
		if (progress->done == 0)
			output_summary("nothing to apply");
		else
			output_summary(progress->done == 1 ? "%d migration applied in %s" : "%d migrations applied in %s",
						   progress->done, output_duration(output_now() - started));
	}
	else
		run_failure_summary(progress);
	return rc;
}

/* How many ways of naming tenants the options use: one at most */
int
options_tenants(const Options *opts)
{
	return (opts->tenants != NULL) + (opts->tenant_pattern != NULL) +
		(opts->tenant_query != NULL) + (opts->tenant_databases != NULL) +
		(opts->tenant_database_pattern != NULL);
}

/*
 * run with --tenants, --tenant-pattern, --tenant-query, --tenant-databases
 * or --tenant-database-pattern: the folder run in each tenant schema or
 * database by migrate.start_tenants, followed as run is, then one line per
 * tenant that did not end applied and the count of each state.  The
 * tenant databases are passed only when given, so that a server before
 * 0.6 takes the schemas' call as before.
 */
static int
command_run_tenants(PGconn *conn, const Options *opts, const char *files,
					const char *source)
{
	const char *values[13];
	int			nvalues = files ? 11 : 10;
	bool		databases = opts->tenant_databases || opts->tenant_database_pattern;
	CallProgress progress;
	PGresult   *res;
	double		started = output_now();
	char	   *run_id;
	int			rc;

	values[0] = files ? files : opts->dir;
	values[1] = opts->tenants;
	values[2] = opts->tenant_pattern;
	values[3] = opts->tenant_query;
	values[4] = opts->tenant_workers ? psprintf("%d", opts->tenant_workers) : "1";
	values[5] = psprintf("%d", opts->canary);
	values[6] = opts->on_failure ? opts->on_failure : "stop";
	values[7] = opts->format;
	values[8] = opts->allow_drift ? "true" : "false";
	values[9] = opts->target;
	values[10] = source;
	if (databases)
	{
		values[nvalues] = opts->tenant_databases;
		values[nvalues + 1] = opts->tenant_database_pattern;
	}
	if (!opts->detach)
		output_begin_rows();
	res = call(conn, psprintf("SELECT migrate.start_tenants(%s => $1::pg_catalog.%s,"
							  " tenants => pg_catalog.string_to_array($2, ','),"
							  " tenant_pattern => $3, tenant_query => $4,"
							  " parallel => $5::pg_catalog.int4, canary => $6::pg_catalog.int4,"
							  " on_failure => $7, format => $8,"
							  " allow_drift => $9::pg_catalog.bool, target => $10%s%s)",
							  files ? "files" : "dir", files ? "jsonb" : "text",
							  files ? ", source => $11" : "",
							  !databases ? "" :
							  psprintf(", databases => pg_catalog.string_to_array($%d, ','),"
									   " database_pattern => $%d", nvalues + 1, nvalues + 2)),
			   databases ? nvalues + 2 : nvalues, values, &progress, true);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		rc = output_server_error(conn, res);
		PQclear(res);
		return rc;
	}
	run_id = pg_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (opts->detach)
	{
		printf(opts->json ? "{\"run_id\": %s}\n" : "%s\n", run_id);
		return EXIT_OK;
	}
	rc = follow_run(conn, run_id, &progress, started);

	values[0] = run_id;
	res = PQexecParams(conn,
					   "SELECT CASE tenant WHEN '' THEN 'database ' || database ELSE 'tenant ' || tenant END,"
					   " state, coalesce(file || coalesce(':' || line, '') || ': ', '')"
					   " || coalesce(error, ''),"
					   " pg_catalog.count(*) OVER (PARTITION BY state), state <> 'applied'"
					   " FROM migrate.tenant_runs WHERE run_id = $1::pg_catalog.int8"
					   " ORDER BY position",
					   1, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && !opts->quiet)
	{
		StringInfoData counts;

		initStringInfo(&counts);
		for (int i = 0; i < PQntuples(res); i++)
		{
			const char *state = PQgetvalue(res, i, 1);

			if (strcmp(PQgetvalue(res, i, 4), "t") == 0)
				fprintf(stderr, "%s: %s%s%s\n", PQgetvalue(res, i, 0), state,
						*PQgetvalue(res, i, 2) ? ": " : "", PQgetvalue(res, i, 2));
			if (strstr(counts.data, state) == NULL)
				appendStringInfo(&counts, "%s%s %s", counts.len ? ", " : "",
								 PQgetvalue(res, i, 3), state);
		}
		if (counts.len)
			fprintf(stderr, "run %s: %d tenants: %s\n", run_id, PQntuples(res), counts.data);
		pfree(counts.data);
	}
	PQclear(res);
	return rc;
}

/* Whether the server can start runs for this role: 0.5's migrate.start */
static bool
can_start(PGconn *conn, bool sent)
{
	PGresult   *res = PQexec(conn, sent ?
							 "SELECT pg_catalog.has_function_privilege(p, 'EXECUTE')"
							 " FROM pg_catalog.to_regprocedure('migrate.start(jsonb, text, boolean, text, text, boolean)') p"
							 " WHERE p IS NOT NULL" :
							 "SELECT pg_catalog.has_function_privilege(p, 'EXECUTE')"
							 " FROM pg_catalog.to_regprocedure('migrate.start(text, text, boolean, text, boolean)') p"
							 " WHERE p IS NOT NULL");
	bool		result = PQresultStatus(res) == PGRES_TUPLES_OK &&
		PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;

	PQclear(res);
	return result;
}

/*
 * run: the server performs the run (migrate.start), which goes on when
 * the command is killed or its connection drops; the command follows it.
 * A server before 0.5, or a role not granted start, runs it in this
 * session (CALL migrate.run), as before.
 */
int
command_run(PGconn *conn, const Options *opts, const char *files,
			const char *source)
{
	const char *values[5];
	CallProgress progress;
	PGresult   *res;
	double		started = output_now();
	int			rc = EXIT_OK;
	bool		detached = can_start(conn, files != NULL);
	char	   *run_id;

	if (options_tenants(opts) > 0)
		return command_run_tenants(conn, opts, files, source);

	values[0] = files ? files : opts->dir;
	values[1] = opts->format;
	values[2] = opts->allow_drift ? "true" : "false";
	/* the target, when given, follows the form's last argument */
	values[3] = files ? source : opts->target;
	values[4] = opts->target;
	if (!opts->detach)
		output_begin_rows();
	if (!detached && opts->detach)
	{
		output_error("the server cannot start runs: --detach needs pg_migrate 0.5 and EXECUTE on migrate.start()");
		return EXIT_FAILED;
	}
	res = call(conn, psprintf(files ?
							  "%s migrate.%s(files => $1::pg_catalog.jsonb,"
							  " format => $2::pg_catalog.text, allow_drift => $3::pg_catalog.bool,"
							  " source => $4::pg_catalog.text%s)" :
							  "%s migrate.%s(dir => $1::pg_catalog.text,"
							  " format => $2::pg_catalog.text, allow_drift => $3::pg_catalog.bool%s)",
							  detached ? "SELECT" : "CALL", detached ? "start" : "run",
							  target_argument(opts, files ? 5 : 4)),
			   (files ? 4 : 3) + (opts->target != NULL), values, &progress, true);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = output_server_error(conn, res);
	else if (detached)
	{
		run_id = pg_strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (opts->detach)
		{
			if (opts->json)
				printf("{\"run_id\": %s}\n", run_id);
			else
				printf("%s\n", run_id);
			return EXIT_OK;
		}
		return follow_run(conn, run_id, &progress, started);
	}
	PQclear(res);
	if (opts->detach)
		return rc;
	output_end_rows();

	if (rc == EXIT_OK)
	{
		if (progress.done == 0)
			output_summary("nothing to apply");
		else
			output_summary(progress.done == 1 ? "%d migration applied in %s" : "%d migrations applied in %s",
						   progress.done, output_duration(output_now() - started));
	}
	else
		run_failure_summary(&progress);
	return rc;
}

/*
 * wait ID, resume ID: follow the run as run does (resume queues it again
 * first); cancel ID: cancel it.
 */
int
command_run_id(PGconn *conn, const Options *opts)
{
	const char *values[1] = {opts->run_id};
	CallProgress progress;
	PGresult   *res;
	double		started = output_now();

	if (strcmp(opts->command, "cancel") == 0)
	{
		res = call(conn, "SELECT migrate.cancel($1::pg_catalog.int8)", 1, values,
				   &progress, false);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			int			rc = output_server_error(conn, res);

			PQclear(res);
			return rc;
		}
		if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
			output_summary("run %s cancelled", opts->run_id);
		else
			output_summary("run %s was not in progress: nothing to cancel", opts->run_id);
		PQclear(res);
		return EXIT_OK;
	}
	output_begin_rows();
	res = call(conn, strcmp(opts->command, "resume") == 0 ?
			   "SELECT migrate.resume($1::pg_catalog.int8)" :
			   "SELECT $1::pg_catalog.int8", 1, values, &progress, true);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		int			rc = output_server_error(conn, res);

		PQclear(res);
		output_end_rows();
		return rc;
	}
	PQclear(res);
	return follow_run(conn, opts->run_id, &progress, started);
}

/* runs: the runs of migrate.runs this role may see, oldest first */
int
command_runs(PGconn *conn, const Options *opts)
{
	PGresult   *res = PQexec(conn, opts->json ?
							 "SELECT * FROM migrate.runs ORDER BY run_id" :
							 "SELECT run_id, state,"
							 " coalesce(migration OPERATOR(pg_catalog.||) coalesce(pg_catalog.format(' (%s of %s)', migration_number, migrations), ''), '-'),"
							 " started_by, pg_catalog.date_trunc('second', elapsed)::pg_catalog.text,"
							 " source, error FROM migrate.runs ORDER BY run_id");

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		int			rc = output_server_error(conn, res);

		PQclear(res);
		return rc;
	}
	output_begin_rows();
	for (int i = 0; i < PQntuples(res); i++)
		output_run_row(res, i);
	output_end_rows();
	if (PQntuples(res) == 0)
		output_summary("no runs");
	PQclear(res);
	return EXIT_OK;
}

int
command_rollback(PGconn *conn, const Options *opts)
{
	const char *values[1] = {opts->name};
	CallProgress progress;
	PGresult   *res;
	double		started = output_now();
	int			n;

	/* skip_partial only when asked: servers before 0.4 do not know it */
	res = call(conn, opts->skip_partial ?
			   "SELECT name, action, pg_catalog.date_part('epoch', duration)"
			   " FROM migrate.rollback($1::pg_catalog.text, skip_partial => true)" :
			   "SELECT name, action, pg_catalog.date_part('epoch', duration)"
			   " FROM migrate.rollback($1::pg_catalog.text)",
			   1, values, &progress, false);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		int			rc = output_server_error(conn, res);

		output_begin_rows();
		output_end_rows();
		output_failure_summary("rollback failed: nothing was rolled back (one transaction)");
		PQclear(res);
		return rc;
	}
	n = print_action_rows(res);
	PQclear(res);
	output_summary(n == 1 ? "%d migration rolled back in %s" : "%d migrations rolled back in %s",
				   n, output_duration(output_now() - started));
	return EXIT_OK;
}

/*
 * down: the down script the database recorded for NAME (the latest
 * migration without it), printed as it is, so that a generated one can be
 * reviewed and committed: pg_migrate down NAME > migrations/NAME.down.sql
 */
int
command_down(PGconn *conn, const Options *opts)
{
	const char *values[1] = {opts->name};
	CallProgress progress;
	PGresult   *res;
	int			rc = EXIT_OK;

	res = call(conn, "SELECT name, down, partial::pg_catalog.text, down_sql"
			   " FROM migrate.down_script($1::pg_catalog.text)",
			   1, values, &progress, false);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		rc = output_server_error(conn, res);
		PQclear(res);
		return rc;
	}
	if (PQgetisnull(res, 0, 3))
	{
		output_error("migration \"%s\" has no down script", PQgetvalue(res, 0, 0));
		output_hint("Migrations applied before pg_migrate generated down scripts, or with migrate.generate_down off, have none: write its inverse by hand.");
		rc = EXIT_FAILED;
	}
	else
		output_down_script(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
						   PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2),
						   PQgetvalue(res, 0, 3));
	PQclear(res);
	return rc;
}

/*
 * status: 3 with --check when anything is not applied; otherwise 1 when
 * drift was found or a migration failed.
 */
static int
status_exit(const PGresult *res, bool check)
{
	bool		not_applied = false,
				bad = false;

	for (int i = 0; i < PQntuples(res); i++)
	{
		const char *state = PQgetvalue(res, i, 1);

		if (strcmp(state, "applied") != 0)
			not_applied = true;
		if (strcmp(state, "failed") == 0 || strcmp(state, "modified") == 0 ||
			strcmp(state, "missing") == 0)
			bad = true;
	}
	if (check && not_applied)
		return EXIT_NOT_READY;
	return bad ? EXIT_FAILED : EXIT_OK;
}

/*
 * SELECT columns FROM function(...) s, for the folder sent (files), the
 * server's folder (DIR with --server-dir), or no folder at all; arg, when
 * not NULL, is the name of the function's other argument, whose value is
 * the command's NAME (opts->name)
 */
PGresult *
call_folder(PGconn *conn, const Options *opts, const char *files,
			const char *source, const char *columns, const char *function,
			const char *arg)
{
	const char *values[4];
	CallProgress progress;
	StringInfoData query;
	PGresult   *res;
	int			nparams = 0;

	initStringInfo(&query);
	appendStringInfo(&query, "SELECT %s FROM %s(", columns, function);
	if (files || opts->dir)
	{
		values[nparams++] = files ? files : opts->dir;
		values[nparams++] = opts->format;
		appendStringInfoString(&query, files ?
							   "files => $1::pg_catalog.jsonb, format => $2::pg_catalog.text" :
							   "dir => $1::pg_catalog.text, format => $2::pg_catalog.text");
		if (files)
		{
			values[nparams++] = source;
			appendStringInfoString(&query, ", source => $3::pg_catalog.text");
		}
	}
	if (arg)
	{
		values[nparams++] = opts->name;
		appendStringInfo(&query, "%s%s => $%d::pg_catalog.text",
						 nparams > 1 ? ", " : "", arg, nparams);
	}
	appendStringInfoString(&query, ") s");
	res = call(conn, query.data, nparams, values, &progress, false);
	pfree(query.data);
	return res;
}

/* A call the server refused: its error, an empty --json array */
int
call_failed(PGconn *conn, PGresult *res)
{
	int			rc = output_server_error(conn, res);

	output_begin_rows();
	output_end_rows();
	PQclear(res);
	return rc;
}

/* The width of the longest name, the first column */
int
name_width(const PGresult *res)
{
	int			width = 0;

	for (int i = 0; i < PQntuples(res); i++)
		width = Max(width, (int) strlen(PQgetvalue(res, i, 0)));
	return width;
}

/*
 * "5 migrations: 3 applied, 1 pending, 1 modified": how many rows (nouns)
 * have each of the values of column (in that order), or none when there
 * are no rows
 */
void
count_summary(const PGresult *res, int column, const char *const *values,
			  int nvalues, const char *noun, const char *nouns, const char *none)
{
	StringInfoData buf;
	int			n = PQntuples(res);

	initStringInfo(&buf);
	for (int v = 0; v < nvalues; v++)
	{
		int			count = 0;

		for (int i = 0; i < n; i++)
			count += strcmp(PQgetvalue(res, i, column), values[v]) == 0;
		if (count > 0)
			appendStringInfo(&buf, "%s%d %s", buf.len ? ", " : "", count, values[v]);
	}
	if (n == 0)
		output_summary("%s", none);
	else
		output_summary("%d %s: %s", n, n == 1 ? noun : nouns, buf.data);
	pfree(buf.data);
}

static void
status_summary(const PGresult *res)
{
	static const char *const states[] = {"applied", "pending", "failed", "modified", "missing"};

	count_summary(res, 1, states, lengthof(states), "migration", "migrations",
				  "no migrations");
}

int
command_status(PGconn *conn, const Options *opts, const char *files,
			   const char *source)
{
	PGresult   *res;
	int			width;
	int			rc;

	/* down read from the row: servers before 0.4 have no such column */
	res = call_folder(conn, opts, files, source,
					  "name, state,"
					  " pg_catalog.to_char(applied_at, 'YYYY-MM-DD HH24:MI:SS TZ'),"
					  " pg_catalog.to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
					  " checksum, pg_catalog.to_jsonb(s) OPERATOR(pg_catalog.->>) 'down'",
					  "migrate.status", NULL);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return call_failed(conn, res);

	width = name_width(res);
	output_begin_rows();
	for (int i = 0; i < PQntuples(res); i++)
	{
		bool		null = PQgetisnull(res, i, 2);

		output_status_row(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
						  null ? NULL : PQgetvalue(res, i, opts->json ? 3 : 2),
						  PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4),
						  PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5),
						  width);
	}
	output_end_rows();
	status_summary(res);
	rc = status_exit(res, opts->check);
	PQclear(res);
	return rc;
}

/* "8 migrations: 5 exact, 1 differs, 2 skipped" */
static void
verify_summary(const PGresult *res)
{
	static const char *const results[] = {"exact", "differs", "irreversible",
	"error", "skipped"};

	count_summary(res, 1, results, lengthof(results), "migration", "migrations",
				  "nothing to verify");
}

/*
 * verify: 1 when a pending migration's down script does not bring the
 * schema back (differs), fails (error), or cannot undo it (irreversible);
 * a migration that cannot be rehearsed (skipped) is no failure.
 */
int
command_verify(PGconn *conn, const Options *opts, const char *files,
			   const char *source)
{
	PGresult   *res;
	int			width;
	int			rc = EXIT_OK;

	res = call_folder(conn, opts, files, source,
					  "name, result, down, detail, objects", "migrate.verify", NULL);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return call_failed(conn, res);

	width = name_width(res);
	output_begin_rows();
	for (int i = 0; i < PQntuples(res); i++)
	{
		const char *result = PQgetvalue(res, i, 1);

		output_verify_row(PQgetvalue(res, i, 0), result,
						  PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2),
						  PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3),
						  PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4),
						  width);
		if (strcmp(result, "exact") != 0 && strcmp(result, "skipped") != 0)
			rc = EXIT_FAILED;
	}
	output_end_rows();
	verify_summary(res);
	PQclear(res);
	return rc;
}
