/*-------------------------------------------------------------------------
 *
 * testdb.c
 *	  pg_migrate test-db: a fresh, migrated test database of the folder
 *	  (migrate.test_database()), printed as a connection URL for the test
 *	  suite to use; test-db --drop drops the role's test databases
 *	  (migrate.drop_test_databases()).
 *
 * The URL is the command's own connection with the test database's name:
 * its user, host (a socket directory too) and port, percent-encoded; never
 * its password, which the suite takes where the command took it
 * (PGPASSWORD, ~/.pgpass).
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "client.h"

/* s percent-encoded as a URI component: only unreserved characters left */
static void
append_encoded(StringInfo buf, const char *s)
{
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~')
			appendStringInfoChar(buf, (char) *p);
		else
			appendStringInfo(buf, "%%%02X", *p);
	}
}

/* postgresql://user@host:port/dbname, as this connection reaches the server */
static char *
database_url(PGconn *conn, const char *dbname)
{
	StringInfoData url;
	const char *host = PQhost(conn);
	const char *port = PQport(conn);

	initStringInfo(&url);
	appendStringInfoString(&url, "postgresql://");
	append_encoded(&url, PQuser(conn));
	appendStringInfoChar(&url, '@');
	if (host && *host)
		append_encoded(&url, host);
	if (port && *port)
		appendStringInfo(&url, ":%s", port);
	appendStringInfoChar(&url, '/');
	append_encoded(&url, dbname);
	return url.data;
}

static int
drop_test_databases(PGconn *conn, const Options *opts)
{
	const char *values[1] = {opts->templates ? "true" : "false"};
	PGresult   *res = PQexecParams(conn,
								   "SELECT name, is_template FROM migrate.drop_test_databases("
								   "templates => $1::pg_catalog.bool) ORDER BY is_template, name",
								   1, NULL, values, NULL, NULL, 0);
	int			n;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		int			rc = output_server_error(conn, res);

		PQclear(res);
		return rc;
	}
	n = PQntuples(res);
	if (opts->json)
	{
		output_begin_rows();
		for (int i = 0; i < n; i++)
			output_run_row(res, i);
		output_end_rows();
	}
	else if (!opts->quiet)
		for (int i = 0; i < n; i++)
			printf("dropped %s\n", PQgetvalue(res, i, 0));
	output_summary(n == 0 ? "no test database to drop" :
				   n == 1 ? "1 database dropped" : "%d databases dropped", n);
	PQclear(res);
	return EXIT_OK;
}

int
command_test_db(PGconn *conn, const Options *opts, const char *files,
				const char *source)
{
	PGresult   *res;
	char	   *url;

	if (opts->drop)
		return drop_test_databases(conn, opts);
	res = call_folder(conn, opts, files, source, "name, template, from_pool",
					  "migrate.test_database", NULL);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return call_failed(conn, res);
	url = database_url(conn, PQgetvalue(res, 0, 0));
	/* the names are [a-z0-9_] and the URL percent-encoded: nothing to escape */
	if (opts->json)
		printf("{\"name\": \"%s\", \"url\": \"%s\", \"template\": \"%s\", \"from_pool\": %s}\n",
			   PQgetvalue(res, 0, 0), url, PQgetvalue(res, 0, 1),
			   strcmp(PQgetvalue(res, 0, 2), "t") == 0 ? "true" : "false");
	else
		printf("%s\n", url);
	fflush(stdout);
	PQclear(res);
	return EXIT_OK;
}
