/*-------------------------------------------------------------------------
 *
 * disk.c
 *	  Migration folders on the server's filesystem: who may,
 *	  which path is meant, which files are there, and their contents.
 *
 * pg_read_file() cannot be used through SPI by members of
 * pg_read_server_files, and genfile.c's helpers are static, so the same
 * privilege model is applied here by hand.
 *
 * migrate.allowed_directories is checked against what was opened, never
 * against a name: a name can be resolved to a path inside, then be swapped
 * for a link that leads outside before it is opened, and a name too long to
 * resolve can still be opened.  So every folder and file is opened first,
 * and the path of the open descriptor is checked before anything is read
 * from it.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <limits.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef F_GETPATH
#include <sys/param.h>
#endif

#include "miscadmin.h"
#include "storage/fd.h"
#include "common/string.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "util/compat.h"
#include "folder/folder.h"

/* What check_opened() is looking at, for its messages */
typedef enum OpenedKind
{
	OPENED_FOLDER,
	OPENED_FILE
} OpenedKind;

static char *folder_resolve(const char *dir);
static bool reads_confined(void);
static void refuse_if_rejected(void);
static char *opened_path(int fd);
static bool path_below(const char *dir, const char *path);
static bool below_allowed_directory(const char *path);
static void check_opened(int fd, const char *given, OpenedKind kind);
static char *read_whole_file(int fd, const char *path, size_t *len);
static void verify_encoding(const char *file, const char *buf, size_t len);

/* The folder disk_hold() holds open, and its descriptor (-1: none) */
static const Folder *held_folder = NULL;
static int	held_fd = -1;

/* Whether reads are confined: by the setting, or because it is unknown */
static bool
reads_confined(void)
{
	return migrate_allowed_directories_rejected ||
		(migrate_allowed_directories != NULL &&
		 migrate_allowed_directories[0] != '\0');
}

/* See define_allowed_directories() in pg_migrate.c */
static void
refuse_if_rejected(void)
{
	if (migrate_allowed_directories_rejected)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot read migrations folders while \"migrate.allowed_directories\" is unknown"),
				 errdetail("A value of \"migrate.allowed_directories\" set for this session was rejected when pg_migrate was loaded, so which folders may be read is not known."),
				 errhint("Start a new session without setting \"migrate.allowed_directories\". Administrators set it in postgresql.conf or with ALTER SYSTEM; with pg_migrate in shared_preload_libraries, a value that a role may not set is refused when it is set.")));
}

/*
 * The absolute path of the folder or file open as fd, palloc'd, or NULL
 * with errno set when this platform cannot tell.  Linux names it under
 * /proc (a file deleted since it was opened gets " (deleted)" appended,
 * which leaves its folder as it was; one outside the process's root does
 * not start with '/').
 */
static char *
opened_path(int fd)
{
#if defined(F_GETPATH)
	char		buf[MAXPATHLEN];

	if (fcntl(fd, F_GETPATH, buf) < 0)
		return NULL;
	return pstrdup(buf);
#elif defined(__linux__)
	char		link[64];
	char		buf[PATH_MAX];
	ssize_t		len;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	len = readlink(link, buf, sizeof(buf));
	if (len < 0)
		return NULL;
	if (len >= (ssize_t) sizeof(buf) || buf[0] != '/')
	{
		errno = ENOENT;
		return NULL;
	}
	buf[len] = '\0';
	return pstrdup(buf);
#else
	errno = ENOTSUP;
	return NULL;
#endif
}

/* Whether path is dir or below it; both are absolute and canonical */
static bool
path_below(const char *dir, const char *path)
{
	size_t		len = strlen(dir);

	/* "/" is the only canonical path that ends in a slash */
	if (len > 0 && dir[len - 1] == '/')
		len--;
	return strncmp(dir, path, len) == 0 &&
		(path[len] == '/' || path[len] == '\0');
}

/*
 * Whether path lies below one of migrate.allowed_directories.  Those are
 * resolved (links followed) like the path of what was opened; one that does
 * not exist, or is not absolute, allows nothing.
 */
static bool
below_allowed_directory(const char *path)
{
	char	   *raw = pstrdup(migrate_allowed_directories);
	List	   *dirs;
	ListCell   *lc;

	if (!SplitDirectoriesString(raw, ',', &dirs))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in parameter \"migrate.allowed_directories\"")));
	foreach(lc, dirs)
	{
		char	   *allowed;
		bool		inside;

		if (!is_absolute_path((char *) lfirst(lc)))
			continue;
		allowed = realpath((char *) lfirst(lc), NULL);
		if (allowed == NULL)
			continue;
		inside = path_below(allowed, path);
		free(allowed);
		if (inside)
			return true;
	}
	return false;
}

/*
 * With migrate.allowed_directories set, what fd refers to (given is the
 * name it was opened by) must lie below one of them, so that neither a link
 * nor a swap made meanwhile can lead out.  What cannot be checked is
 * refused.
 */
static void
check_opened(int fd, const char *given, OpenedKind kind)
{
	char	   *opened;

	if (!reads_confined())
		return;
	refuse_if_rejected();

	opened = opened_path(fd);
	if (opened == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("could not determine the location of opened file \"%s\": %m",
						given),
				 errdetail("Files are read only when their location can be checked against \"migrate.allowed_directories\".")));
	if (below_allowed_directory(opened))
	{
		pfree(opened);
		return;
	}

	if (kind == OPENED_FOLDER)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("migrations folder \"%s\" is outside \"migrate.allowed_directories\"",
						given),
				 errdetail("The folder opened is \"%s\", which is not below any of these folders: %s.",
						   opened, migrate_allowed_directories),
				 errhint("Place the migrations below an allowed folder, or ask a superuser to add their folder to \"migrate.allowed_directories\".")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("migration file \"%s\" is outside \"migrate.allowed_directories\"",
					given),
			 errdetail("The file opened is \"%s\", which is not below any of these folders: %s.",
					   opened, migrate_allowed_directories),
			 errhint("Place the migrations below an allowed folder, or ask a superuser to add their folder to \"migrate.allowed_directories\".")));
}

/*
 * Whether the caller could list folders by other means, and so may be shown
 * the names in one: a superuser, or a role that may execute pg_ls_dir(),
 * which with pg_read_server_files (needed to read a folder at all) lists
 * any folder.  Errors about a folder give file names and counts only to
 * them.
 */
bool
folder_may_list(void)
{
	Oid			role = GetUserId();

	return superuser() ||
		compat_proc_aclcheck(F_PG_LS_DIR_TEXT, role, ACL_EXECUTE) == ACLCHECK_OK ||
		compat_proc_aclcheck(F_PG_LS_DIR_TEXT_BOOL_BOOL, role, ACL_EXECUTE) == ACLCHECK_OK;
}

/*
 * Check that the caller may read server files, and turn the folder argument
 * into a canonical absolute path to an existing directory that may be read.
 */
static char *
folder_resolve(const char *dir)
{
	char	   *resolved;
	char	   *result;
	int			fd;
	struct stat st;

	if (!superuser() &&
		!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to read migrations folder \"%s\"",
						dir),
				 errdetail("Reading files on the server requires superuser or the privileges of the \"pg_read_server_files\" role."),
				 errhint("Grant the role that runs migrations membership in \"pg_read_server_files\".")));
	refuse_if_rejected();

	if (dir[0] == '\0' || !is_absolute_path(dir))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("migrations folder \"%s\" is not an absolute path", dir),
				 errhint("Give the folder's full path on the database server, such as '/srv/app/migrations'.")));

	if (strlen(dir) >= MAXPGPATH)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("migrations folder path is too long"),
				 errdetail("A path may be at most %d bytes long.", MAXPGPATH - 1)));

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

	/* O_NONBLOCK: a FIFO found there must be refused, not waited on */
	fd = OpenTransientFile(result, O_RDONLY | PG_BINARY | O_NONBLOCK);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open migrations folder \"%s\": %m", dir)));
	check_opened(fd, dir, OPENED_FOLDER);
	if (fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat migrations folder \"%s\": %m", dir)));
	if (!S_ISDIR(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("migrations folder \"%s\" is not a directory", dir),
				 errhint("Pass the folder that contains the migration files, not a file.")));
	CloseTransientFile(fd);

	return result;
}


/* A folder on the server's disk, after the checks of folder_resolve() */
Folder *
folder_on_disk(const char *dir)
{
	Folder	   *folder = palloc0(sizeof(Folder));

	folder->path = folder_resolve(dir);
	folder->name = folder->path;
	folder->source = folder->path;
	return folder;
}

/*
 * Whether dir/file is a regular file.  Only a format's detection asks: its
 * contents are read, and checked, with disk_read_file().
 */
bool
disk_has_file(const Folder *folder, const char *file)
{
	const char *dir = folder->path;
	char		path[MAXPGPATH];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * Names of the regular files directly in the folder, sorted.  Subfolders are not
 * read: a format that needs one (drizzle's meta/) reads it by name.  A
 * .sql name that is not a regular file (a link to nothing, a FIFO, a
 * device) is an error: left out, it would be applied later, out of order.
 * The pg_migrate command refuses the same when it reads a folder.
 */
List *
disk_list_files(const Folder *folder)
{
	const char *dir = folder->path;
	DIR		   *d;
	struct dirent *de;
	List	   *files = NIL;

	d = AllocateDir(dir);
	if (d == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open migrations folder \"%s\": %m", dir)));
	/* the folder may have been swapped since folder_resolve() checked it */
	check_opened(dirfd(d), dir, OPENED_FOLDER);

	while ((de = ReadDir(d, dir)) != NULL)
	{
		struct stat st;
		bool		is_sql = pg_str_endswith(de->d_name, ".sql");

		if (de->d_name[0] == '.')
			continue;
#ifdef DT_REG
		/* the entry's type saves a stat() per file, which adds up */
		if (de->d_type == DT_REG)
		{
			files = lappend(files, pstrdup(de->d_name));
			continue;
		}
		if (de->d_type != DT_LNK && de->d_type != DT_UNKNOWN && !is_sql)
			continue;
#endif
		/* relative to the folder opened and checked, not to its name */
		if (fstatat(dirfd(d), de->d_name, &st, 0) != 0)
		{
			/* a vanished file is not a migration */
			if (errno == ENOENT &&
				fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
				continue;
			if (errno == ENOENT && !is_sql)
				continue;
			if (errno == ENOENT)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_FILE),
						 folder_may_list() ?
						 errmsg("migration file \"%s/%s\" is a link to nothing",
								dir, de->d_name) :
						 errmsg("a migration file in migrations folder \"%s\" is a link to nothing",
								dir),
						 errhint("Remove the link, or make it point to the migration's file.")));
			if (folder_may_list())
				ereport(ERROR,
						(errcode_for_file_access(),
						 errmsg("could not stat file \"%s/%s\": %m",
								dir, de->d_name)));
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not stat a file in migrations folder \"%s\": %m",
							dir)));
		}
		if (S_ISREG(st.st_mode))
			files = lappend(files, pstrdup(de->d_name));
		else if (is_sql && !S_ISDIR(st.st_mode))
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 folder_may_list() ?
					 errmsg("migration file \"%s/%s\" is not a regular file",
							dir, de->d_name) :
					 errmsg("a migration file in migrations folder \"%s\" is not a regular file",
							dir),
					 errhint("Replace it with a regular file holding the migration, or remove it.")));
	}
	FreeDir(d);

	list_sort(files, compare_string_cells);
	return files;
}

/*
 * Names of the folders directly in the folder (links to folders too),
 * sorted; none starting with ".".  Their files are read by name, each
 * checked as disk_read_file() checks any file.
 */
List *
disk_list_subfolders(const Folder *folder)
{
	const char *dir = folder->path;
	DIR		   *d;
	struct dirent *de;
	List	   *names = NIL;

	d = AllocateDir(dir);
	if (d == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open migrations folder \"%s\": %m", dir)));
	check_opened(dirfd(d), dir, OPENED_FOLDER);

	while ((de = ReadDir(d, dir)) != NULL)
	{
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
#ifdef DT_REG
		if (de->d_type == DT_REG)
			continue;
		if (de->d_type == DT_DIR)
		{
			names = lappend(names, pstrdup(de->d_name));
			continue;
		}
#endif
		if (fstatat(dirfd(d), de->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode))
			names = lappend(names, pstrdup(de->d_name));
	}
	FreeDir(d);

	list_sort(names, compare_string_cells);
	return names;
}

/*
 * Read an open file whole into a NUL-terminated buffer; path for errors.
 */
static char *
read_whole_file(int fd, const char *path, size_t *len)
{
	struct stat st;
	char	   *buf;
	size_t		size;
	size_t		nread = 0;

	if (fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat migration file \"%s\": %m", path)));
	if (!S_ISREG(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("migration file \"%s\" is not a regular file", path)));
	if (st.st_size >= (off_t) MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("migration file \"%s\" is too large", path),
				 errdetail("A migration file may be at most %zu bytes long.",
						   (size_t) MaxAllocSize - 1)));

	/*
	 * The size fstat() gave is read, without the read() that would find
	 * the end: status reads every file of a folder, and a system call a
	 * file counts there.  A file whose size is unknown (0: files under
	 * /proc, among others) is read to the end.
	 */
	size = st.st_size > 0 ? st.st_size : 8192;
	buf = palloc(size + 1);
	for (;;)
	{
		ssize_t		r;

		if (nread == size && st.st_size > 0)
			break;
		if (nread == size)
		{
			if (size >= MaxAllocSize - 1)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("migration file \"%s\" is too large", path),
						 errdetail("A migration file may be at most %zu bytes long.",
								   (size_t) MaxAllocSize - 1)));
			size = Min(size * 2, MaxAllocSize - 1);
			buf = repalloc(buf, size + 1);
		}
		r = read(fd, buf + nread, size - nread);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read migration file \"%s\": %m", path)));
		if (r == 0)
			break;
		nread += r;
	}
	buf[nread] = '\0';
	*len = nread;
	return buf;
}

/* Refuse a file that is not valid in the database encoding, saying where */
static void
verify_encoding(const char *file, const char *buf, size_t len)
{
	int			valid = compat_valid_prefix_length(GetDatabaseEncoding(), buf, (int) len);

	if (valid != (int) len)
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("migration file \"%s\" is not valid in encoding \"%s\"",
						file, GetDatabaseEncodingName()),
				 errdetail("Invalid byte 0x%02x at line %d (byte offset %d).",
						   (unsigned char) buf[valid], 1 + count_newlines(buf, valid),
						   valid),
				 errhint("Save the file in the database's encoding, %s.",
						 GetDatabaseEncodingName())));
}

/*
 * Hold the folder open while all its files are read one after another
 * (source_load() checksums every one), so that each file is opened
 * relative to it: looking the folder's path up again for each file costs
 * about as much as reading a small one.  One folder at a time; the caller
 * releases it, also on error (a transient file is closed at abort, but the
 * descriptor's number must not be used after that).
 */
void
disk_hold(const Folder *folder)
{
	int			fd;

	Assert(held_fd < 0);
	fd = OpenTransientFile(folder->path, O_RDONLY | PG_BINARY | O_NONBLOCK);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open migrations folder \"%s\": %m",
						folder->path)));
	/* the folder may have been swapped since folder_resolve() checked it */
	check_opened(fd, folder->path, OPENED_FOLDER);
	held_fd = fd;
	held_folder = folder;
}

/* Close the folder that disk_hold() opened, if it is open */
void
disk_release(void)
{
	if (held_fd >= 0)
		CloseTransientFile(held_fd);
	held_fd = -1;
	held_folder = NULL;
}

/*
 * The stamp of a file of the held folder (links followed), which
 * source_load() keeps beside the file's checksum so that an unchanged file
 * need not be read again.  Its status change time (ctime) is set by the
 * kernel to the time of every write, rename or link, and cannot be set
 * otherwise; a file whose ctime is less than two seconds old has no stamp
 * yet, so that a write after the stamp was taken always gives another
 * ctime, even where the file system keeps whole seconds.  False when the
 * folder is not held or the file cannot be stat'ed: it is then read.
 * False too while reads are confined to migrate.allowed_directories: each
 * file is then opened, and where it leads checked, every time.
 */
bool
disk_file_stamp(const Folder *folder, const char *file, FileStamp *stamp)
{
	struct stat st;

	if (folder != held_folder || file[0] == '/' || reads_confined() ||
		fstatat(held_fd, file, &st, 0) != 0 || !S_ISREG(st.st_mode) ||
		st.st_ctime > time(NULL) - 2)
		return false;
	memset(stamp, 0, sizeof(FileStamp));
	stamp->dev = st.st_dev;
	stamp->ino = st.st_ino;
	stamp->size = st.st_size;
	stamp->mtime = st.st_mtime;
	stamp->ctime = st.st_ctime;
	return true;
}

/*
 * Read a file of the held folder opened as fd, relative to it, and close
 * it.  The descriptor is not a transient file (there is no openat() among
 * those), so it is closed here on error too.
 */
static char *
read_held_file(int fd, const char *path, size_t *len)
{
	char	   *volatile buf = NULL;
	volatile size_t nread = 0;

	PG_TRY();
	{
		size_t		n;

		check_opened(fd, path, OPENED_FILE);
		buf = read_whole_file(fd, path, &n);
		nread = n;
	}
	PG_CATCH();
	{
		close(fd);
		PG_RE_THROW();
	}
	PG_END_TRY();
	close(fd);
	*len = nread;
	return buf;
}

/*
 * The whole content of dir/file as a NUL-terminated string, verified to be
 * valid in the database encoding.  With missing_ok, a file that does not
 * exist gives NULL.
 */
char *
disk_read_file(const Folder *folder, const char *file, bool missing_ok)
{
	const char *dir = folder->path;
	char		path[MAXPGPATH];
	int			fd = -1;
	char	   *buf;
	size_t		len;

	/* an absolute name is below the folder, as in path, not where it says */
	bool		held = folder == held_folder && file[0] != '/';

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int) sizeof(path))
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("path of migration file \"%s\" is too long", file),
				 errdetail("A path may be at most %d bytes long.", MAXPGPATH - 1)));

	if (held)
		fd = openat(held_fd, file, O_RDONLY | PG_BINARY | O_NONBLOCK);
	if (fd >= 0)
	{
		buf = read_held_file(fd, path, &len);
		verify_encoding(file, buf, len);
		return buf;
	}

	/*
	 * A transient file is closed for us if an error is raised meanwhile.
	 * O_NONBLOCK: a FIFO swapped in must be refused, not waited on.  Out
	 * of descriptors in the held folder, opening by path closes some of
	 * the server's cached ones first.
	 */
	if (!held || errno == EMFILE || errno == ENFILE)
		fd = OpenTransientFile(path, O_RDONLY | PG_BINARY | O_NONBLOCK);
	if (fd < 0)
	{
		if (missing_ok && errno == ENOENT)
			return NULL;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open migration file \"%s\": %m", path),
				 errhint("The file must be readable by the operating system user that runs the database server.")));
	}
	check_opened(fd, path, OPENED_FILE);
	buf = read_whole_file(fd, path, &len);
	CloseTransientFile(fd);
	verify_encoding(file, buf, len);
	return buf;
}
