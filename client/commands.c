/*-------------------------------------------------------------------------
 *
 * commands.c
 *	  The pg_migrate command's subcommands: each one call of the extension's
 *	  SQL functions, and what its result or error means.
 *
 * A folder read on the client goes as the files jsonb forms' argument,
 * with the folder's source ("client:<host>:<path>"); with --server-dir the
 * text forms read the folder on the server.  Progress comes from the
 * NOTICE the server raises before each migration ("applying migration
 * ..."), received as it arrives: for run, which commits each migration,
 * a migration's line is printed when the next one starts or the call
 * ends, timed on arrival; apply and rollback print their result rows,
 * with the durations the server measured.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "client.h"

typedef enum ProgressKind
{
	PROGRESS_NONE,				/* any other notice */
	PROGRESS_APPLYING,
	PROGRESS_ADOPTING,			/* a drizzle migration drizzle-orm applied */
	PROGRESS_ROLLING_BACK
} ProgressKind;

/* What a call has done so far, as its notices tell */
typedef struct CallProgress
{
	bool		print_each;		/* run: a line per migration as it ends */
	char	   *current;		/* the migration running, or NULL */
	ProgressKind current_kind;
	double		started;		/* when it started */
	int			done;			/* migrations finished */
} CallProgress;

static ProgressKind classify_notice(const PGresult *res, char **name);
static void finish_current(CallProgress *progress);
static void receive_notice(void *arg, const PGresult *res);
static PGresult *call(PGconn *conn, const char *sql, int nparams,
					  const char *const *values, CallProgress *progress,
					  bool print_each);
static int	print_action_rows(const PGresult *res);
static void run_failure_summary(const CallProgress *progress);
static int	status_exit(const PGresult *res, bool check);
static void status_summary(const PGresult *res);

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

	if (file == NULL || func == NULL || msg == NULL ||
		strcmp(file, "runner.c") != 0)
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

/* run: the migration that was running has been committed */
static void
finish_current(CallProgress *progress)
{
	if (progress->current == NULL)
		return;
	if (progress->print_each)
		output_migration(progress->current,
						 progress->current_kind == PROGRESS_ADOPTING ? "adopted" : "applied",
						 output_now() - progress->started);
	progress->done++;
	free(progress->current);
	progress->current = NULL;
}

static void
receive_notice(void *arg, const PGresult *res)
{
	CallProgress *progress = arg;
	char	   *name = NULL;
	ProgressKind kind = classify_notice(res, &name);

	if (kind == PROGRESS_NONE)
	{
		output_notice(res);
		return;
	}
	finish_current(progress);
	progress->current = name;
	progress->current_kind = kind;
	progress->started = output_now();
	output_progress(kind == PROGRESS_ROLLING_BACK ? "rolling back" :
					kind == PROGRESS_ADOPTING ? "recording" : "applying", name);
}

/* Run one call, its notices handled as they arrive */
static PGresult *
call(PGconn *conn, const char *sql, int nparams, const char *const *values,
	 CallProgress *progress, bool print_each)
{
	PGresult   *res;

	memset(progress, 0, sizeof(CallProgress));
	progress->print_each = print_each;
	PQsetNoticeReceiver(conn, receive_notice, progress);
	res = PQexecParams(conn, sql, nparams, NULL, values, NULL, NULL, 0);
	output_progress(NULL, NULL);
	return res;
}

/* Rows (name, action, seconds) of apply or rollback; returns how many */
static int
print_action_rows(const PGresult *res)
{
	int			n = PQntuples(res);

	output_begin_rows();
	for (int i = 0; i < n; i++)
		output_migration(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
						 strtod(PQgetvalue(res, i, 2), NULL));
	output_end_rows();
	return n;
}

int
command_apply(PGconn *conn, const Options *opts, const char *files,
			  const char *source)
{
	const char *values[4];
	CallProgress progress;
	PGresult   *res;
	double		started = output_now();
	int			n;

	values[0] = files ? files : opts->dir;
	values[1] = opts->format;
	values[2] = opts->allow_drift ? "true" : "false";
	values[3] = source;
	res = call(conn, files ?
			   "SELECT name, action, pg_catalog.date_part('epoch', duration)"
			   " FROM migrate.apply(files => $1::pg_catalog.jsonb,"
			   " format => $2::pg_catalog.text, allow_drift => $3::pg_catalog.bool,"
			   " source => $4::pg_catalog.text)" :
			   "SELECT name, action, pg_catalog.date_part('epoch', duration)"
			   " FROM migrate.apply(dir => $1::pg_catalog.text,"
			   " format => $2::pg_catalog.text, allow_drift => $3::pg_catalog.bool)",
			   files ? 4 : 3, values, &progress, false);
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

	/* a migration is current from its notice until the next one */
	if (progress->current == NULL)
		output_failure_summary("run failed before applying anything%s", cancelled);
	else if (progress->done == 0)
		output_failure_summary("run stopped at migration \"%s\"%s; nothing was applied before it",
							   progress->current, cancelled);
	else
		output_failure_summary(progress->done == 1 ?
							   "run stopped at migration \"%s\"%s; the migration applied before it stays applied" :
							   "run stopped at migration \"%s\"%s; the %d migrations applied before it stay applied",
							   progress->current, cancelled, progress->done);
}

int
command_run(PGconn *conn, const Options *opts, const char *files,
			const char *source)
{
	const char *values[4];
	CallProgress progress;
	PGresult   *res;
	double		started = output_now();
	int			rc = EXIT_OK;

	values[0] = files ? files : opts->dir;
	values[1] = opts->format;
	values[2] = opts->allow_drift ? "true" : "false";
	values[3] = source;
	output_begin_rows();
	res = call(conn, files ?
			   "CALL migrate.run(files => $1::pg_catalog.jsonb,"
			   " format => $2::pg_catalog.text, allow_drift => $3::pg_catalog.bool,"
			   " source => $4::pg_catalog.text)" :
			   "CALL migrate.run(dir => $1::pg_catalog.text,"
			   " format => $2::pg_catalog.text, allow_drift => $3::pg_catalog.bool)",
			   files ? 4 : 3, values, &progress, true);
	if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
		finish_current(&progress);
	else
		rc = output_server_error(conn, res);
	PQclear(res);
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

int
command_rollback(PGconn *conn, const Options *opts)
{
	const char *values[1] = {opts->name};
	CallProgress progress;
	PGresult   *res;
	double		started = output_now();
	int			n;

	res = call(conn,
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

/* "5 migrations: 3 applied, 1 pending, 1 modified" */
static void
status_summary(const PGresult *res)
{
	static const char *const states[] = {"applied", "pending", "failed", "modified", "missing"};
	StringInfoData buf;
	int			n = PQntuples(res);

	initStringInfo(&buf);
	for (int s = 0; s < lengthof(states); s++)
	{
		int			count = 0;

		for (int i = 0; i < n; i++)
			count += strcmp(PQgetvalue(res, i, 1), states[s]) == 0;
		if (count > 0)
			appendStringInfo(&buf, "%s%d %s", buf.len ? ", " : "", count, states[s]);
	}
	if (n == 0)
		output_summary("no migrations");
	else
		output_summary(n == 1 ? "%d migration: %s" : "%d migrations: %s", n, buf.data);
	pfree(buf.data);
}

int
command_status(PGconn *conn, const Options *opts, const char *files,
			   const char *source)
{
	const char *values[3];
	CallProgress progress;
	PGresult   *res;
	int			width = 0;
	int			rc;

	values[0] = files ? files : opts->dir;
	values[1] = opts->format;
	values[2] = source;
#define STATUS_COLUMNS "SELECT name, state," \
	" pg_catalog.to_char(applied_at, 'YYYY-MM-DD HH24:MI:SS TZ')," \
	" pg_catalog.to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')," \
	" checksum FROM "
	if (files)
		res = call(conn, STATUS_COLUMNS "migrate.status(files => $1::pg_catalog.jsonb,"
				   " format => $2::pg_catalog.text, source => $3::pg_catalog.text)",
				   3, values, &progress, false);
	else if (opts->dir)
		res = call(conn, STATUS_COLUMNS "migrate.status(dir => $1::pg_catalog.text,"
				   " format => $2::pg_catalog.text)", 2, values, &progress, false);
	else
		res = call(conn, STATUS_COLUMNS "migrate.status()", 0, values, &progress, false);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		rc = output_server_error(conn, res);
		output_begin_rows();
		output_end_rows();
		PQclear(res);
		return rc;
	}

	for (int i = 0; i < PQntuples(res); i++)
		width = Max(width, (int) strlen(PQgetvalue(res, i, 0)));
	output_begin_rows();
	for (int i = 0; i < PQntuples(res); i++)
	{
		bool		null = PQgetisnull(res, i, 2);

		output_status_row(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
						  null ? NULL : PQgetvalue(res, i, opts->json ? 3 : 2),
						  PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4),
						  width);
	}
	output_end_rows();
	status_summary(res);
	rc = status_exit(res, opts->check);
	PQclear(res);
	return rc;
}
