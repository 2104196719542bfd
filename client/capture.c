/*-------------------------------------------------------------------------
 *
 * capture.c
 *	  pg_migrate capture DIR NAME: the DDL run outside migrations on the
 *	  database, made into the next migration of the local folder, so that
 *	  the repository catches up with production.
 *
 * The server does the work (migrate.capture(files, description)): it
 * names the migration in the folder's format, records it as applied and
 * returns the files to write, the drizzle journal among them.  The call's
 * transaction stays open while the files are written, and commits only
 * once they are: a file that cannot be written leaves nothing recorded,
 * and a commit that fails takes the files back.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

/* A file written, and what to put back if the capture does not commit */
typedef struct WrittenFile
{
	char	   *path;
	const char *old_text;		/* NULL: the file is new, remove it */
	size_t		old_len;
} WrittenFile;

static void receive_notice(void *arg, const PGresult *res);
static bool run_simple(PGconn *conn, const char *sql);
static const SentFile *sent_file(const SentFolder *folder, const char *path);
static bool write_file(const char *path, const char *text, size_t len);
static void take_back(WrittenFile *written, int n);

static void
receive_notice(void *arg, const PGresult *res)
{
	output_notice(res);
}

static bool
run_simple(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		output_server_error(conn, res);
	PQclear(res);
	return ok;
}

static const SentFile *
sent_file(const SentFolder *folder, const char *path)
{
	for (int i = 0; i < folder->count; i++)
		if (strcmp(folder->files[i].path, path) == 0)
			return &folder->files[i];
	return NULL;
}

/*
 * Write the whole file beside its place, then rename it there, so that a
 * failure leaves no half-written migration in the folder
 */
static bool
write_file(const char *path, const char *text, size_t len)
{
	char	   *tmp = psprintf("%s.pg_migrate-tmp", path);
	FILE	   *f = fopen(tmp, PG_BINARY_W);

	if (f == NULL)
	{
		output_error("could not create file \"%s\": %m", tmp);
		pfree(tmp);
		return false;
	}
	if (fwrite(text, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0)
	{
		output_error("could not write file \"%s\": %m", tmp);
		fclose(f);
		unlink(tmp);
		pfree(tmp);
		return false;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0)
	{
		output_error("could not write file \"%s\": %m", path);
		unlink(tmp);
		pfree(tmp);
		return false;
	}
	pfree(tmp);
	return true;
}

/* Put the folder back as it was: remove new files, restore the others */
static void
take_back(WrittenFile *written, int n)
{
	for (int i = n - 1; i >= 0; i--)
	{
		if (written[i].old_text == NULL)
		{
			if (unlink(written[i].path) != 0)
				output_error("could not remove file \"%s\": %m", written[i].path);
		}
		else
			(void) write_file(written[i].path, written[i].old_text,
							  written[i].old_len);
	}
}

int
command_capture(PGconn *conn, const Options *opts, const char *files,
				const char *source, const SentFolder *folder)
{
	const char *values[4];
	PGresult   *res;
	WrittenFile *written;
	int			n;
	int			nwritten = 0;

	if (!run_simple(conn, "BEGIN"))
		return EXIT_FAILED;
	values[0] = files;
	values[1] = opts->name;
	values[2] = opts->format;
	values[3] = source;
	PQsetNoticeReceiver(conn, receive_notice, NULL);
	res = PQexecParams(conn,
							 "SELECT name, file, content"
							 " FROM migrate.capture(files => $1::pg_catalog.jsonb,"
							 " description => $2::pg_catalog.text,"
							 " format => $3::pg_catalog.text,"
							 " source => $4::pg_catalog.text)",
							 4, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		int			rc = output_server_error(conn, res);

		PQclear(res);
		(void) run_simple(conn, "ROLLBACK");
		output_failure_summary("capture failed: nothing was recorded");
		return rc;
	}

	n = PQntuples(res);
	written = pg_malloc0(sizeof(WrittenFile) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		const char *file = PQgetvalue(res, i, 1);
		const char *text = PQgetvalue(res, i, 2);
		const SentFile *old = sent_file(folder, file);
		char	   *path = psprintf("%s/%s", folder->abspath, file);
		struct stat st;

		/* only the journal is rewritten: a migration file is never replaced */
		if (old == NULL && lstat(path, &st) == 0)
		{
			output_error("file \"%s\" already exists", path);
			output_hint("Move it away, or choose another NAME.");
			break;
		}
		if (!write_file(path, text, strlen(text)))
			break;
		written[nwritten].path = path;
		written[nwritten].old_text = old ? old->text : NULL;
		written[nwritten].old_len = old ? old->len : 0;
		nwritten++;
	}
	if (nwritten < n)
	{
		take_back(written, nwritten);
		PQclear(res);
		(void) run_simple(conn, "ROLLBACK");
		output_failure_summary("capture failed: nothing was recorded and no file was written");
		return EXIT_SETUP;
	}
	if (!run_simple(conn, "COMMIT"))
	{
		take_back(written, nwritten);
		PQclear(res);
		output_failure_summary("capture failed: nothing was recorded and no file was written");
		return EXIT_FAILED;
	}

	output_begin_rows();
	for (int i = 0; i < n; i++)
		output_captured(PQgetvalue(res, i, 0), written[i].path);
	output_end_rows();
	output_summary("captured the DDL run outside migrations as migration \"%s\"",
				   n > 0 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return EXIT_OK;
}
