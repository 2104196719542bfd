/*-------------------------------------------------------------------------
 *
 * folder.h
 *	  A migrations folder and its migrations in memory: the Folder, on the
 *	  server's disk or sent as data, and the set of migrations a format
 *	  reads from it.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_MIGRATE_FOLDER_H
#define PG_MIGRATE_FOLDER_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "script/script.h"

/*
 * One migration as found in a source folder.  Only what is needed to order
 * it and to check it against the tracking table is kept here; the scripts
 * themselves are read by migration_load() when they are needed, so that
 * memory does not grow with the number of migrations.
 */
typedef struct Migration
{
	char	   *name;			/* identity: file stem without up/down suffix */
	char	   *version;		/* leading version, compared part by part */
	char	   *up_file;		/* file name, relative to the folder */
	char	   *down_file;		/* file name, or NULL when there is none */
	char		checksum[MIGRATE_CHECKSUM_LEN + 1]; /* of the up script */
	char		down_checksum[MIGRATE_CHECKSUM_LEN + 1];	/* "" if none; set
															 * when checked */
	bool		no_transaction; /* runs outside a transaction block: set
								 * once its script has been checked */
	bool		marked_no_transaction;	/* by a directive (or dbmate's
										 * transaction:false) */
	bool		repeatable;		/* Flyway R__: re-run when its checksum changes */
	bool		adopted;		/* applied by the format's own tool (its
								 * table says so), not yet recorded */
	int64		created_at;		/* drizzle journal's "when", else 0 */
	int			commit_line;	/* drizzle: line of the COMMIT that ends the
								 * transaction (formats/drizzle.c), set once
								 * checked; 0 when none */
} Migration;

/*
 * Where a folder's files come from: a folder on the server's disk, or the
 * files the caller sent as data.  Past folder.c, disk.c and sent_files.c,
 * nothing knows which.
 */
typedef struct Folder
{
	const char *name;			/* named in messages */
	const char *source;			/* recorded as the migrations' source: the
								 * path, or what the caller says; or NULL */
	const char *path;			/* canonical path on the server, or NULL */
	Jsonb	   *files;			/* the files sent, or NULL */
} Folder;

/*
 * What tells that a file on disk is unchanged since it was read: see
 * folder_file_stamp()
 */
typedef struct FileStamp
{
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	time_t		mtime;
	time_t		ctime;
} FileStamp;

struct MigrationFormat;

/* A folder's migrations, sorted by version, then name */
typedef struct MigrationSet
{
	const Folder *folder;
	const char *dir;			/* the folder's name, for messages */
	const struct MigrationFormat *format;	/* see formats.h */
	int			count;
	Migration  *items;
	Migration **by_name;		/* the same, sorted by name */
	char	   *tool_table;		/* the tool's table that adopted migrations
								 * were found in, qualified, or NULL */
} MigrationSet;

/* The scripts of one migration, read from disk */
typedef struct LoadedMigration
{
	Script		up;
	Script		down;			/* down.sql is NULL when there is none */
	bool		no_transaction; /* "-- migrate:no-transaction" directive */
	bool		commit_ends_transaction;	/* drizzle: a COMMIT of its own
											 * ends the transaction, see
											 * formats/drizzle.c */
	bool		down_generated; /* down was generated as up ran */
	char	   *down_partial;	/* and what it does not undo, as JSON, or
								 * NULL */
} LoadedMigration;

/* folder.c: a folder, on disk or sent */
extern List *folder_list_files(const Folder *folder);
extern List *folder_list_subfolders(const Folder *folder);
extern char *folder_read_file(const Folder *folder, const char *file,
							  bool missing_ok);
extern bool folder_has_file(const Folder *folder, const char *file);
extern void folder_hold(const Folder *folder);
extern void folder_release(const Folder *folder);
extern bool folder_file_stamp(const Folder *folder, const char *file,
							  FileStamp *stamp);
extern bool file_stamps_equal(const FileStamp *a, const FileStamp *b);

/* disk.c: folders on the server's disk */
extern Folder *folder_on_disk(const char *dir);
extern bool folder_may_list(void);
extern List *disk_list_files(const Folder *folder);
extern List *disk_list_subfolders(const Folder *folder);
extern char *disk_read_file(const Folder *folder, const char *file,
							bool missing_ok);
extern bool disk_has_file(const Folder *folder, const char *file);
extern void disk_hold(const Folder *folder);
extern void disk_release(void);
extern bool disk_file_stamp(const Folder *folder, const char *file,
							FileStamp *stamp);

/* sent_files.c: folders sent as data */
extern Folder *folder_sent(Jsonb *files, const char *source);
extern List *sent_list_files(const Folder *folder);
extern List *sent_list_subfolders(const Folder *folder);
extern char *sent_read_file(const Folder *folder, const char *file,
							bool missing_ok);
extern bool sent_has_file(const Folder *folder, const char *file);

/* source.c: the set of a folder's migrations, as the formats build it */
extern Migration *source_add(MigrationSet *set, const char *name,
							 const char *version, const char *up_file);
extern void source_sort(MigrationSet *set);
extern Migration *source_find(const MigrationSet *set, const char *name);
extern Migration *source_find_next(const MigrationSet *set, const char *name,
								   int *next);
extern int	version_cmp(const char *a, const char *b);
extern int	migration_order_cmp(bool repeatable_a, const char *version_a,
								const char *name_a, bool repeatable_b,
								const char *version_b, const char *name_b);
extern bool is_numbered_sql(const char *file);
extern char *leading_version(const char *name);
extern void load_script(const MigrationSet *set, const char *file, Script *out);
extern void load_up_down_files(const MigrationSet *set, const Migration *m,
							   LoadedMigration *out, bool with_down);
extern void down_outside_transaction(LoadedMigration *out);

#endif							/* PG_MIGRATE_FOLDER_H */
