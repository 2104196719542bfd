/*-------------------------------------------------------------------------
 *
 * folder.c
 *	  Reading migration folders from the server's filesystem: who may,
 *	  which path is meant, which files are there, and their contents.
 *
 * pg_read_file() cannot be used through SPI by members of
 * pg_read_server_files, and genfile.c's helpers are static, so the same
 * privilege model is applied here by hand.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "compat.h"
#include "pg_migrate.h"

static int	compare_cstrings(const ListCell *a, const ListCell *b);
static void check_allowed(const char *given, const char *resolved);

/*
 * With migrate.allowed_directories set, a folder or file must resolve (links
 * followed) to a path below one of them, so that a link cannot lead out.
 */
static void
check_allowed(const char *given, const char *resolved)
{
	char	   *raw;
	List	   *dirs;
	ListCell   *lc;

	if (migrate_allowed_directories == NULL || migrate_allowed_directories[0] == '\0')
		return;
	raw = pstrdup(migrate_allowed_directories);
	if (!SplitDirectoriesString(raw, ',', &dirs))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in migrate.allowed_directories")));
	foreach(lc, dirs)
	{
		char	   *allowed = realpath((char *) lfirst(lc), NULL);
		bool		inside;

		if (allowed == NULL)
			continue;
		inside = path_is_prefix_of_path(allowed, resolved);
		free(allowed);
		if (inside)
			return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("\"%s\" is outside migrate.allowed_directories", given),
			 errdetail("It resolves to \"%s\", and migrations may only be read below: %s.",
					   resolved, migrate_allowed_directories),
			 errhint("Place the migrations below an allowed folder, or ask a superuser to add theirs to migrate.allowed_directories.")));
}

/*
 * Check that the caller may read server files, and turn the folder argument
 * into a canonical absolute path to an existing directory.
 */
char *
folder_resolve(const char *dir)
{
	char	   *resolved;
	char	   *result;
	struct stat st;

	if (!superuser() &&
		!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to read migrations folder \"%s\"",
						dir),
				 errdetail("Reading files on the server requires superuser or the privileges of the \"pg_read_server_files\" role."),
				 errhint("Grant the role that runs migrations membership in \"pg_read_server_files\".")));

	if (dir[0] == '\0' || !is_absolute_path(dir))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("migrations folder \"%s\" is not an absolute path", dir),
				 errhint("Give the folder's full path on the database server, such as '/srv/app/migrations'.")));

	if (strlen(dir) >= MAXPGPATH)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("migrations folder path is too long")));

	/* Resolve links once, so that errors and tracking rows name one path */
	resolved = realpath(dir, NULL);
	if (resolved == NULL)
	{
		if (errno == ENOENT || errno == ENOTDIR)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("migrations folder \"%s\" does not exist", dir),
					 errhint("The path is resolved on the database server, not on the client's machine.")));
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not resolve migrations folder \"%s\": %m", dir)));
	}

	result = pstrdup(resolved);
	free(resolved);
	check_allowed(dir, result);

	if (stat(result, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat migrations folder \"%s\": %m", dir)));
	if (!S_ISDIR(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("migrations folder \"%s\" is not a directory", dir),
				 errhint("Pass the folder that contains the migration files, not a file.")));

	return result;
}

static int
compare_cstrings(const ListCell *a, const ListCell *b)
{
	return strcmp((const char *) lfirst(a), (const char *) lfirst(b));
}

/*
 * Names of the regular files directly in dir, sorted.  Subfolders are not
 * read: a format that needs one (drizzle's meta/) reads it by name.
 */
List *
folder_list_files(const char *dir)
{
	DIR		   *d;
	struct dirent *de;
	List	   *files = NIL;

	d = AllocateDir(dir);
	while ((de = ReadDir(d, dir)) != NULL)
	{
		char		path[MAXPGPATH];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
#ifdef DT_REG
		/* the entry's type saves a stat() per file, which adds up */
		if (de->d_type == DT_REG)
		{
			files = lappend(files, pstrdup(de->d_name));
			continue;
		}
		if (de->d_type != DT_LNK && de->d_type != DT_UNKNOWN)
			continue;
#endif
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) != 0)
		{
			/* a dangling link is not a migration; a vanished file neither */
			if (errno == ENOENT)
				continue;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not stat file \"%s\": %m", path)));
		}
		if (S_ISREG(st.st_mode))
			files = lappend(files, pstrdup(de->d_name));
	}
	FreeDir(d);

	list_sort(files, compare_cstrings);
	return files;
}

/*
 * The whole content of dir/file as a NUL-terminated string, verified to be
 * valid in the database encoding.  With missing_ok, a file that does not
 * exist gives NULL.
 */
char *
folder_read_file(const char *dir, const char *file, bool missing_ok)
{
	char		path[MAXPGPATH];
	int			fd;
	struct stat st;
	char	   *buf;
	size_t		nread = 0;
	int			valid;

	snprintf(path, sizeof(path), "%s/%s", dir, file);

	if (migrate_allowed_directories && migrate_allowed_directories[0])
	{
		char	   *resolved = realpath(path, NULL);

		if (resolved)
		{
			char	   *copy = pstrdup(resolved);

			free(resolved);
			check_allowed(path, copy);
		}
	}

	/* a transient file is closed for us if an error is raised meanwhile */
	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		if (missing_ok && errno == ENOENT)
			return NULL;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open migration file \"%s\": %m", path),
				 errhint("The file must be readable by the operating system user that runs the database server.")));
	}

	if (fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat migration file \"%s\": %m", path)));
	if (st.st_size >= (off_t) MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("migration file \"%s\" is too large", path),
				 errdetail("A migration file may be at most %zu bytes long.",
						   (size_t) MaxAllocSize - 1)));

	buf = palloc(st.st_size + 1);
	while (nread < (size_t) st.st_size)
	{
		ssize_t		r = read(fd, buf + nread, st.st_size - nread);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read migration file \"%s\": %m", path)));
		if (r == 0)				/* shrank meanwhile */
			break;
		nread += r;
	}
	CloseTransientFile(fd);
	buf[nread] = '\0';

	valid = compat_valid_prefix_length(GetDatabaseEncoding(), buf, (int) nread);
	if (valid != (int) nread)
	{
		int			line = 1;

		for (int i = 0; i < valid; i++)
			if (buf[i] == '\n')
				line++;
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("migration file \"%s\" is not valid in encoding \"%s\"",
						file, GetDatabaseEncodingName()),
				 errdetail("Invalid byte 0x%02x at line %d (byte offset %d).",
						   (unsigned char) buf[valid], line, valid),
				 errhint("Save the file in the database's encoding, %s.",
						 GetDatabaseEncodingName())));
	}

	return buf;
}
