/*-------------------------------------------------------------------------
 *
 * folder.c
 *	  Read a migrations folder on the client's disk, and turn it into the
 *	  jsonb object migrate.apply/run/status(files jsonb, ...) take: each
 *	  file's path relative to the folder mapped to its text.
 *
 * Which files are sent: every regular file of the folder and of its
 * subfolders (at any depth up to MAX_DEPTH), with these exceptions:
 *   - names starting with "." (files and folders), as the server's own
 *     listing of a folder skips them;
 *   - links to folders (a loop cannot be followed); links to files are
 *     read;
 *   - drizzle-kit's snapshots (meta/NNNN_snapshot.json): schema dumps that
 *     no format reads, and the bulk of a drizzle folder;
 *   - files that the server reads from no folder (see needed()) and that
 *     cannot be read, are not regular files, are larger than
 *     MAX_OTHER_FILE, hold a NUL byte, or are not valid text in the client
 *     encoding (images, archives, notes in another encoding, a README only
 *     its owner may read).
 * A file the server reads (a .sql file directly in the folder, a Prisma or
 * Diesel migration's script, drizzle's journal, Atlas's atlas.sum, Sqitch's
 * plan and scripts) is an error naming it when it cannot be sent whole: it
 * cannot be read, is a link to nothing, is not a regular file (a FIFO or a device
 * left out would be applied later, out of order), is larger than a jsonb
 * string may be, or is not valid text.  The server reading a folder on its
 * disk (src/folder/disk.c) refuses the same.  Files are read to their end, not
 * to the size stat() gives: /proc and some FUSE file systems say 0.  The
 * server picks what its format reads from what is sent, as it would from
 * a folder on its disk.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mb/pg_wchar.h"

#include "client.h"

#define MAX_DEPTH 16
#define MAX_OTHER_FILE (1024 * 1024)

/*
 * The longest string a jsonb value can hold, and the most its object's
 * keys and strings can add up to: JENTRY_OFFLENMASK, 256 MiB - 1 byte
 */
#define MAX_SENT_BYTES ((size_t) 0x0FFFFFFF)

static bool walk(const char *root, const char *rel, SentFolder *folder, int depth);
static bool visit(const char *root, const char *rel, SentFolder *folder, int depth);
static bool read_file(const char *path, const char *rel, SentFolder *folder);
static bool read_to_end(int fd, const char *path, bool is_needed,
						size_t size_hint, SentFile *f);
static bool needed(const char *rel);
static void too_large(const char *path);
static bool has_suffix(const char *s, const char *suffix);
static bool is_drizzle_snapshot(const char *rel);
static int	invalid_offset(const char *text, size_t len, int encoding);
static int	line_of(const char *text, int offset);
static bool sendable(const SentFolder *folder, const SentFile *f, int encoding,
					 bool *error);

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t		n = strlen(s),
				m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool
is_drizzle_snapshot(const char *rel)
{
	return strncmp(rel, "meta/", 5) == 0 && strchr(rel + 5, '/') == NULL &&
		has_suffix(rel, "_snapshot.json");
}

/*
 * Whether the server reads rel when the folder is on its disk: the .sql
 * files directly in it (every format's migrations), drizzle's journal,
 * Atlas's atlas.sum, Sqitch's plan and its deploy/, revert/ and verify/
 * scripts, and the scripts of the formats that keep each migration in a
 * folder of its own, one folder down (Prisma's migration.sql and down.sql,
 * Diesel's up.sql and down.sql).  Those must be sent whole or not at all;
 * the others go when they can.
 */
static bool
needed(const char *rel)
{
	const char *slash = strchr(rel, '/');

	if (slash == NULL)
		return has_suffix(rel, ".sql") || strcmp(rel, "atlas.sum") == 0 ||
			strcmp(rel, "sqitch.plan") == 0;
	if (strcmp(rel, "meta/_journal.json") == 0)
		return true;
	if ((strncmp(rel, "deploy/", 7) == 0 || strncmp(rel, "revert/", 7) == 0 ||
		 strncmp(rel, "verify/", 7) == 0) && has_suffix(rel, ".sql"))
		return true;
	return strchr(slash + 1, '/') == NULL &&
		(strcmp(slash + 1, "migration.sql") == 0 ||
		 strcmp(slash + 1, "up.sql") == 0 ||
		 strcmp(slash + 1, "down.sql") == 0);
}

static void
too_large(const char *path)
{
	output_error("file \"%s\" is too large to send: a file sent may be at most %zu bytes (256 MiB), the most a jsonb string holds",
				 path, MAX_SENT_BYTES);
	output_hint("Split the migration into smaller ones, or put the folder on the database server and pass --server-dir.");
}

/*
 * Read the folder dir and every file to send (see the top of this file).
 * Errors are printed; false then.
 */
bool
folder_read(const char *dir, SentFolder *folder)
{
	char	   *resolved;
	struct stat st;

	memset(folder, 0, sizeof(SentFolder));
	if (stat(dir, &st) < 0)
	{
		output_error("could not open migrations folder \"%s\": %m", dir);
		return false;
	}
	if (!S_ISDIR(st.st_mode))
	{
		output_error("\"%s\" is not a folder", dir);
		output_hint("Name the folder that holds the migration files.");
		return false;
	}
	if ((resolved = realpath(dir, NULL)) == NULL)
	{
		output_error("could not resolve the path of \"%s\": %m", dir);
		return false;
	}
	folder->abspath = resolved;
	return walk(folder->abspath, NULL, folder, 0);
}

/* The entries of root/rel (root itself when rel is NULL) */
static bool
walk(const char *root, const char *rel, SentFolder *folder, int depth)
{
	char	   *path = rel ? psprintf("%s/%s", root, rel) : pg_strdup(root);
	DIR		   *d = opendir(path);
	struct dirent *de;
	bool		ok = true;

	if (d == NULL)
	{
		output_error("could not open folder \"%s\": %m", path);
		free(path);
		return false;
	}
	while (ok)
	{
		char	   *child;

		errno = 0;
		if ((de = readdir(d)) == NULL)
		{
			if (errno != 0)
			{
				output_error("could not read folder \"%s\": %m", path);
				ok = false;
			}
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		child = rel ? psprintf("%s/%s", rel, de->d_name) : pg_strdup(de->d_name);
		ok = visit(root, child, folder, depth);
		free(child);
	}
	closedir(d);
	free(path);
	return ok;
}

/* One entry: a folder to walk, a file to read, or something to skip */
static bool
visit(const char *root, const char *rel, SentFolder *folder, int depth)
{
	char	   *path = psprintf("%s/%s", root, rel);
	struct stat st;
	bool		ok = true;

	if (lstat(path, &st) < 0)
	{
		output_error("could not read \"%s\": %m", path);
		ok = false;
	}
	else if (S_ISDIR(st.st_mode))
	{
		if (depth < MAX_DEPTH)
			ok = walk(root, rel, folder, depth + 1);
	}
	else if (S_ISLNK(st.st_mode) && stat(path, &st) < 0)
	{
		if (needed(rel))
		{
			if (errno == ENOENT)
				output_error("migration file \"%s\" is a link to nothing", path);
			else
				output_error("could not follow link \"%s\": %m", path);
			output_hint("Remove the link, or make it point to the migration's file.");
			ok = false;
		}
	}
	else if (S_ISDIR(st.st_mode) || is_drizzle_snapshot(rel))
		;						/* a link to a folder, or a snapshot: skipped */
	else if (!S_ISREG(st.st_mode))
	{
		if (needed(rel))
		{
			output_error("migration file \"%s\" is not a regular file", path);
			output_hint("Replace it with a regular file holding the migration, or remove it; a FIFO or a device cannot be sent.");
			ok = false;
		}
	}
	else
		ok = read_file(path, rel, folder);
	free(path);
	return ok;
}

/*
 * Read f's text from fd up to its end (size_hint: what stat() says, which
 * can be less).  A file that is not needed is left out (false, f->text
 * NULL, nothing printed) when it is longer than MAX_OTHER_FILE or cannot
 * be read.
 */
static bool
read_to_end(int fd, const char *path, bool is_needed, size_t size_hint,
			SentFile *f)
{
	size_t		limit = is_needed ? MAX_SENT_BYTES : MAX_OTHER_FILE;
	size_t		size = Min(Max(size_hint + 1, 8192), limit + 1);

	f->text = pg_malloc(size + 1);
	f->len = 0;
	for (;;)
	{
		ssize_t		r;

		if (f->len == size)
		{
			if (size > limit)
				break;
			size = Min(size * 2, limit + 1);
			f->text = pg_realloc(f->text, size + 1);
		}
		r = read(fd, f->text + f->len, size - f->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
		{
			if (is_needed)
				output_error("could not read file \"%s\": %m", path);
			break;
		}
		if (r == 0)
		{
			f->text[f->len] = '\0';
			return true;
		}
		f->len += r;
	}
	if (is_needed && f->len > limit)
		too_large(path);
	/* a file not needed is left out, whatever went wrong */
	free(f->text);
	f->text = NULL;
	return false;
}

static bool
read_file(const char *path, const char *rel, SentFolder *folder)
{
	bool		is_needed = needed(rel);
	SentFile	f;
	struct stat st;
	int			fd;
	bool		ok;

	/* O_NONBLOCK: a FIFO swapped in since lstat() is not waited on */
	if ((fd = open(path, O_RDONLY | PG_BINARY | O_NONBLOCK, 0)) < 0)
	{
		if (!is_needed)
			return true;
		output_error("could not open file \"%s\": %m", path);
		return false;
	}
	if (fstat(fd, &st) < 0)
	{
		if (is_needed)
			output_error("could not stat file \"%s\": %m", path);
		close(fd);
		return !is_needed;
	}
	if (!S_ISREG(st.st_mode))
	{
		if (is_needed)
			output_error("migration file \"%s\" is not a regular file", path);
		close(fd);
		return !is_needed;
	}
	/* st_size can be 0 for a file that has text, but is never too much */
	if (is_needed && (size_t) st.st_size > MAX_SENT_BYTES)
	{
		too_large(path);
		close(fd);
		return false;
	}
	ok = read_to_end(fd, path, is_needed, (size_t) st.st_size, &f);
	close(fd);
	if (!ok)
		return !is_needed;

	if (folder->count == folder->capacity)
	{
		folder->capacity = Max(64, folder->capacity * 2);
		folder->files = pg_realloc(folder->files,
								   sizeof(SentFile) * folder->capacity);
	}
	f.path = pg_strdup(rel);
	f.required = is_needed;
	folder->files[folder->count++] = f;
	return true;
}

/*
 * The first byte of text that is not valid in encoding (a NUL included),
 * or -1 when all is valid.
 */
static int
invalid_offset(const char *text, size_t len, int encoding)
{
	int			valid;

#if PG_VERSION_NUM >= 140000
	valid = pg_encoding_verifymbstr(encoding, text, len);
#else
	valid = 0;
	while (valid < len)
	{
		int			l = pg_encoding_verifymb(encoding, text + valid, len - valid);

		if (l < 0 || text[valid] == '\0')
			break;
		valid += l;
	}
#endif
	return valid < len ? valid : -1;
}

static int
line_of(const char *text, int offset)
{
	int			line = 1;

	for (int i = 0; i < offset; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

/*
 * Whether a file can be sent in encoding: true, or false when it is to be
 * left out; an error (printed, *error set) when the server needs it.
 */
static bool
sendable(const SentFolder *folder, const SentFile *f, int encoding, bool *error)
{
	const char *enc = pg_encoding_to_char(encoding);
	int			bad;

	*error = false;
	if (invalid_offset(f->path, strlen(f->path), encoding) >= 0)
	{
		if (!f->required)
			return false;
		output_error("file name \"%s/%s\" is not valid in encoding \"%s\"",
					 folder->abspath, f->path, enc);
		output_hint("Rename the file, or set PGCLIENTENCODING to the encoding its name is written in.");
		*error = true;
		return false;
	}
	if ((bad = invalid_offset(f->text, f->len, encoding)) < 0)
		return true;
	if (!f->required)
		return false;
	output_error("file \"%s/%s\" is not valid text in encoding \"%s\": invalid byte 0x%02x at line %d",
				 folder->abspath, f->path, enc,
				 (unsigned char) f->text[bad], line_of(f->text, bad));
	output_hint("Save the file in %s, or set PGCLIENTENCODING to the encoding it is written in.",
				enc);
	*error = true;
	return false;
}

/*
 * The files as a JSON object, in json.  Text goes as it is, in the
 * connection's client encoding (the server converts it); a file that is
 * not valid in that encoding is an error if the server needs it, else
 * left out.
 */
bool
folder_to_json(const SentFolder *folder, int encoding, StringInfo json)
{
	bool		first = true;
	size_t		total = 0;

	appendStringInfoChar(json, '{');
	for (int i = 0; i < folder->count; i++)
	{
		const SentFile *f = &folder->files[i];
		bool		error;

		if (!sendable(folder, f, encoding, &error))
		{
			if (error)
				return false;
			continue;
		}
		total += strlen(f->path) + f->len;
		if (total > MAX_SENT_BYTES)
		{
			output_error("the files of \"%s\" are too large to send together: a folder sent may hold at most %zu bytes (256 MiB), the most a jsonb object holds",
						 folder->abspath, MAX_SENT_BYTES);
			output_hint("Put the folder on the database server and pass --server-dir.");
			return false;
		}
		if (!first)
			appendStringInfoString(json, ",\n");
		first = false;
		json_append_string(json, f->path, strlen(f->path), encoding);
		appendStringInfoString(json, ": ");
		json_append_string(json, f->text, f->len, encoding);
	}
	appendStringInfoChar(json, '}');
	return true;
}

/* What the tracking tables record as the folder's source */
char *
folder_source(const SentFolder *folder)
{
	char		host[256];
	bool		known = gethostname(host, sizeof(host)) == 0;

	host[sizeof(host) - 1] = '\0';
	return psprintf("client:%s:%s", known ? host : "unknown", folder->abspath);
}
