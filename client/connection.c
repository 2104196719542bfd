/*-------------------------------------------------------------------------
 *
 * connection.c
 *	  The pg_migrate command's connection: opened as psql opens one, checked
 *	  for the pg_migrate extension, and cancelled on Ctrl-C.
 *
 * Connection options are psql's (-d taking a database name, a conninfo
 * string or a URI; -h -p -U; the PG* environment variables, .pgpass and
 * service files, all through libpq), plus DATABASE_URL when -d is not
 * given, as application platforms export it.
 *
 * Ctrl-C (SIGINT) and SIGTERM send a cancel request for the call that
 * runs, as psql does: the server cancels the statement, rolls back what
 * the call had not committed and releases the run lock, and the command
 * reports the server's error.  A second one exits at once.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <signal.h>
#include <unistd.h>

#include "common/string.h"
#include "pqexpbuffer.h"

#include "client.h"

static PGcancel *volatile cancel_handle = NULL;
static volatile sig_atomic_t interrupted = 0;

static char *read_password(void);
static const char *connection_dbname(const Options *opts);
static char *uri_password(const char *conninfo);
static char *masked(const char *message, const char *password);
static PGconn *connect_once(const Options *opts, const char *password);
static bool query_value(PGconn *conn, const char *sql, char **value);
static int	compare_versions(const char *a, const char *b);
static void report_missing(PGconn *conn, const char *available);
static void report_old(PGconn *conn, const char *installed, const char *available);
static void write_stderr(const char *s);
static void handle_interrupt(SIGNAL_ARGS);

/* simple_prompt() returns the password from PostgreSQL 14 on */
static char *
read_password(void)
{
#if PG_VERSION_NUM >= 140000
	return simple_prompt("Password: ", false);
#else
	char		buf[1024];

	simple_prompt("Password: ", buf, sizeof(buf), false);
	return pg_strdup(buf);
#endif
}

/* -d, or DATABASE_URL when -d is not given */
static const char *
connection_dbname(const Options *opts)
{
	const char *url = getenv("DATABASE_URL");

	return opts->dbname ? opts->dbname : (url && url[0] ? url : NULL);
}

/*
 * The password of a URI, as written in it (percent-encoded or not), or
 * NULL: libpq's error for a malformed URI quotes the URI, or the part it
 * could not decode, and the password must not be printed with it.  As
 * libpq reads a URI, what comes before the first '@' that no '/' precedes
 * is user[:password].
 */
static char *
uri_password(const char *conninfo)
{
	const char *p,
			   *colon;
	size_t		n;

	if (conninfo == NULL)
		return NULL;
	if (strncmp(conninfo, "postgresql://", 13) == 0)
		conninfo += 13;
	else if (strncmp(conninfo, "postgres://", 11) == 0)
		conninfo += 11;
	else
		return NULL;
	n = strcspn(conninfo, "@/");
	if (conninfo[n] != '@')
		return NULL;
	colon = memchr(conninfo, ':', n);
	if (colon == NULL || colon + 1 == conninfo + n)
		return NULL;
	p = colon + 1;
	return pnstrdup(p, conninfo + n - p);
}

/* message with every occurrence of password written as "***", malloc'd */
static char *
masked(const char *message, const char *password)
{
	PQExpBufferData buf;
	const char *hit;
	size_t		len = password ? strlen(password) : 0;

	if (len == 0)
		return pg_strdup(message);
	initPQExpBuffer(&buf);
	while ((hit = strstr(message, password)) != NULL)
	{
		appendBinaryPQExpBuffer(&buf, message, hit - message);
		appendPQExpBufferStr(&buf, "***");
		message = hit + len;
	}
	appendPQExpBufferStr(&buf, message);
	return buf.data;
}

static PGconn *
connect_once(const Options *opts, const char *password)
{
	const char *dbname = connection_dbname(opts);

	/* psql's order: what dbname expands to overrides what comes before */
	const char *const keywords[] = {
		"host", "port", "user", "password", "dbname",
		"fallback_application_name", NULL
	};
	const char *const values[] = {
		opts->host, opts->port, opts->user, password, dbname,
		"pg_migrate", NULL
	};

	return PQconnectdbParams(keywords, values, true);
}

/*
 * Connect, prompting for a password as psql does: with -W before
 * connecting, otherwise when the server asks for one and none was given,
 * unless -w or standard input is not a terminal (a pipeline would hang).
 * Errors are printed; NULL then.
 */
PGconn *
connection_open(const Options *opts)
{
	char	   *password = NULL;
	char	   *message;
	PGconn	   *conn;

	if (opts->prompt == PROMPT_ALWAYS)
		password = read_password();
	for (;;)
	{
		conn = connect_once(opts, password);
		if (conn == NULL)
		{
			output_error("could not connect: out of memory");
			return NULL;
		}
		if (PQstatus(conn) == CONNECTION_OK)
			return conn;
		if (password != NULL || !PQconnectionNeedsPassword(conn) ||
			opts->prompt == PROMPT_NEVER || !isatty(fileno(stdin)))
			break;
		PQfinish(conn);
		password = read_password();
	}
	message = masked(PQerrorMessage(conn), uri_password(connection_dbname(opts)));
	output_error("%s", message);
	free(message);
	PQfinish(conn);
	return NULL;
}

/*
 * A target as it may be shown (several targets, fleet.c): the password
 * of a URI, or of a connection string's password=..., written "***".
 * malloc'd.
 */
char *
connection_masked_target(const char *target)
{
	char	   *password = uri_password(target);
	PQconninfoOption *options;

	if (password != NULL)
		return masked(target, password);
	if (strchr(target, '=') == NULL || (options = PQconninfoParse(target, NULL)) == NULL)
		return pg_strdup(target);
	for (PQconninfoOption *o = options; o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0])
			password = pg_strdup(o->val);
	PQconninfoFree(options);
	return masked(target, password);
}

/*
 * The one value of a one-column query, or NULL when it returns no row.
 * A failing query is printed; false then.
 */
static bool
query_value(PGconn *conn, const char *sql, char **value)
{
	PGresult   *res = PQexec(conn, sql);

	*value = NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		output_server_error(conn, res);
		PQclear(res);
		return false;
	}
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		*value = pg_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}

/* Versions "major.minor", compared as numbers */
static int
compare_versions(const char *a, const char *b)
{
	int			a1 = 0,
				a2 = 0,
				b1 = 0,
				b2 = 0;

	(void) sscanf(a, "%d.%d", &a1, &a2);
	(void) sscanf(b, "%d.%d", &b1, &b2);
	if (a1 != b1)
		return a1 < b1 ? -1 : 1;
	return a2 < b2 ? -1 : (a2 > b2);
}

static void
report_missing(PGconn *conn, const char *available)
{
	output_error("extension \"pg_migrate\" is not installed in database \"%s\"",
				 PQdb(conn));
	if (available == NULL)
	{
		output_detail("The database server has no pg_migrate extension to install either.");
		output_hint("Install pg_migrate on the database server (make install), then run CREATE EXTENSION pg_migrate; in that database as a superuser.");
	}
	else
		output_hint("Run CREATE EXTENSION pg_migrate; in that database as a superuser.");
}

static void
report_old(PGconn *conn, const char *installed, const char *available)
{
	output_error("extension \"pg_migrate\" in database \"%s\" is version %s, and sending a folder needs version %s or later",
				 PQdb(conn), installed, SENT_FOLDER_VERSION);
	if (available && compare_versions(available, SENT_FOLDER_VERSION) >= 0)
		output_hint("Run ALTER EXTENSION pg_migrate UPDATE; in that database (the server has version %s installed), or pass --server-dir to read a folder on the database server.",
					available);
	else
		output_hint("Install pg_migrate %s or later on the database server (it has version %s), then run ALTER EXTENSION pg_migrate UPDATE; in that database.",
					SENT_FOLDER_VERSION, available ? available : "none");
}

/*
 * Whether the database has the extension, at a version that takes a
 * folder sent as data when one is sent: rather than let a call fail with
 * "function does not exist", say what to run.  Errors are printed.
 */
bool
connection_check_extension(PGconn *conn, bool sends_folder)
{
	char	   *installed;
	char	   *available;

	if (!query_value(conn,
					 "SELECT extversion FROM pg_catalog.pg_extension"
					 " WHERE extname OPERATOR(pg_catalog.=) 'pg_migrate'",
					 &installed))
		return false;
	if (installed != NULL &&
		(!sends_folder || compare_versions(installed, SENT_FOLDER_VERSION) >= 0))
		return true;
	if (!query_value(conn,
					 "SELECT default_version FROM pg_catalog.pg_available_extensions"
					 " WHERE name OPERATOR(pg_catalog.=) 'pg_migrate'",
					 &available))
		return false;
	if (installed == NULL)
		report_missing(conn, available);
	else
		report_old(conn, installed, available);
	return false;
}

/* write(2), the one output a signal handler may use */
static void
write_stderr(const char *s)
{
	ssize_t		rc = write(STDERR_FILENO, s, strlen(s));

	(void) rc;
}

static void
handle_interrupt(SIGNAL_ARGS)
{
	int			save_errno = errno;
	char		errbuf[256];

	if (interrupted)
		_exit(EXIT_FAILED);
	interrupted = 1;
	if (cancel_handle == NULL)
		_exit(EXIT_FAILED);
	if (PQcancel(cancel_handle, errbuf, sizeof(errbuf)))
		write_stderr("pg_migrate: cancel request sent\n");
	else
	{
		write_stderr("pg_migrate: could not send cancel request: ");
		write_stderr(errbuf);
		write_stderr("\n");
	}
	errno = save_errno;
}

/* From now on, Ctrl-C and SIGTERM cancel what runs on conn */
void
connection_catch_interrupts(PGconn *conn)
{
	struct sigaction act;

	cancel_handle = PQgetCancel(conn);
	memset(&act, 0, sizeof(act));
	act.sa_handler = handle_interrupt;
	sigemptyset(&act.sa_mask);
	act.sa_flags = SA_RESTART;
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);
}

bool
connection_was_interrupted(void)
{
	return interrupted != 0;
}
