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
 *   - files that are neither .sql nor .json and that are larger than
 *     MAX_OTHER_FILE, hold a NUL byte, or are not valid text in the client
 *     encoding (images, archives, notes in another encoding).
 * A .sql or .json file that cannot be read or is not valid text is an
 * error naming it: the server would need it, or at least its checksum.
 * The server picks what its format reads from what is sent, as it would
 * from a folder on its disk.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mb/pg_wchar.h"

#include "client.h"

#define MAX_DEPTH 16
#define MAX_OTHER_FILE (1024 * 1024)

static bool walk(const char *root, const char *rel, SentFolder *folder, int depth);
static bool visit(const char *root, const char *rel, SentFolder *folder, int depth);
static bool read_file(const char *path, const char *rel, const struct stat *st,
					  SentFolder *folder);
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
		output_error("could not read \"%s\": %m", path);
		ok = false;
	}
	else if (S_ISREG(st.st_mode) && !is_drizzle_snapshot(rel))
		ok = read_file(path, rel, &st, folder);
	free(path);
	return ok;
}

static bool
read_file(const char *path, const char *rel, const struct stat *st,
		  SentFolder *folder)
{
	bool		required = has_suffix(rel, ".sql") || has_suffix(rel, ".json");
	SentFile   *f;
	FILE	   *fp;
	size_t		size = st->st_size;

	if (!required && size > MAX_OTHER_FILE)
		return true;
	if ((fp = fopen(path, PG_BINARY_R)) == NULL)
	{
		output_error("could not open file \"%s\": %m", path);
		return false;
	}
	if (folder->count == folder->capacity)
	{
		folder->capacity = Max(64, folder->capacity * 2);
		folder->files = pg_realloc(folder->files,
								   sizeof(SentFile) * folder->capacity);
	}
	f = &folder->files[folder->count];
	f->path = pg_strdup(rel);
	f->required = required;
	f->text = pg_malloc(size + 1);
	f->len = fread(f->text, 1, size, fp);
	if (ferror(fp) || f->len != size)
	{
		output_error("could not read file \"%s\": %s", path,
					 ferror(fp) ? strerror(errno) : "the file changed while it was read");
		fclose(fp);
		return false;
	}
	fclose(fp);
	f->text[f->len] = '\0';
	folder->count++;
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
