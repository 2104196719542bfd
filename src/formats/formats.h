/*-------------------------------------------------------------------------
 *
 * formats.h
 *	  The folder formats (plain, golang-migrate, dbmate, Flyway, drizzle;
 *	  Prisma, goose, sqlx, Diesel):
 *	  detecting a folder's format, finding its migrations, and reading their
 *	  scripts; and refusing the files of tools not read yet.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_MIGRATE_FORMATS_H
#define PG_MIGRATE_FORMATS_H

#include "postgres.h"

#include "folder/folder.h"

/*
 * A folder format: whether a folder looks like it, how to find its
 * migrations, and how to read one migration's scripts.  A format whose tool
 * keeps its own tracking table shares it through tools.h, by format name.
 */
typedef struct MigrationFormat
{
	const char *name;
	bool		(*claims) (const Folder *folder, List *files);
	void		(*scan) (struct MigrationSet *set, List *files);
	void		(*load) (const MigrationSet *set, const Migration *m,
						 LoadedMigration *out, bool with_down);
} MigrationFormat;

/* formats.c: a folder's migration set, in the folder's format */
extern MigrationSet *source_load(const Folder *folder, const char *format,
								 int elevel);
extern void migration_load(const MigrationSet *set, const Migration *m,
						   LoadedMigration *out, bool with_down);

/* the formats: plain.c, golang_migrate.c, dbmate.c, flyway.c, drizzle.c */
extern const MigrationFormat plain_format;
extern const MigrationFormat golang_format;
extern const MigrationFormat dbmate_format;
extern const MigrationFormat flyway_format;
extern const MigrationFormat drizzle_format;
extern void plain_note_down_file(const MigrationSet *set, const Migration *m);

/* the formats of issue 16 (formats1): prisma.c, goose.c, sqlx.c, diesel.c */
extern const MigrationFormat prisma_format;
extern const MigrationFormat goose_format;
extern const MigrationFormat sqlx_format;
extern const MigrationFormat diesel_format;
extern char *diesel_version(const char *name);
/* formats2's formats: node_pg_migrate.c, atlas.c, sqitch.c, liquibase.c */
extern const MigrationFormat node_pg_migrate_format;
extern const MigrationFormat atlas_format;
extern const MigrationFormat sqitch_format;
extern const MigrationFormat liquibase_format;
extern char *sqitch_project(const MigrationSet *set);
extern char *sqitch_verify_file(const Migration *m);
/* drizzle.c: a migration whose COMMIT ends drizzle-orm's transaction */
typedef struct CommitSplit
{
	int			line;			/* of the COMMIT, or 0 when not split */
	StatementList *after;		/* the statements after it, as in the script */
	Script		rest;			/* the script from the first of them on */
} CommitSplit;

extern bool drizzle_split_at_commit(const LoadedMigration *lm,
									StatementList *stmts, CommitSplit *split);

/* plain.c: numbered SQL files, as plain and golang-migrate name them */
typedef enum FileKind
{
	FILE_BARE,					/* 0001_x.sql */
	FILE_UP,					/* 0001_x.up.sql */
	FILE_DOWN					/* 0001_x.down.sql, 0001_x_down.sql */
} FileKind;

typedef struct NumberedFile
{
	char	   *file;
	char	   *name;
	FileKind	kind;
} NumberedFile;

extern bool numbered_parse(const char *file, NumberedFile *out);
extern void numbered_scan(MigrationSet *set, List *files, bool golang);

/* formats.c */
extern const MigrationFormat *format_by_name(const char *name);

/*
 * new_migration.c: a migration to add to a folder, named and written as
 * the folder's format wants it (migrate.capture())
 */
typedef struct NewMigration
{
	char	   *name;			/* as migrate.status() will list it */
	char	   *file;			/* its file, relative to the folder */
	char	   *content;
	char	   *journal;		/* drizzle: the journal with its entry, else
								 * NULL */
} NewMigration;

extern void new_migration_name(const MigrationSet *set, const char *description,
							   NewMigration *out);
extern void new_migration_write(const MigrationSet *set, const char *header,
								List *statements, bool no_transaction,
								NewMigration *out);

/* drizzle.c: drizzle-kit 1.0's layout, not read yet */
extern const char *drizzle_v1_subfolder(const Folder *folder, List *files);
extern void drizzle_v1_refuse(const Folder *folder, List *files);

/* foreign.c: files of the tools pg_migrate does not read yet */
extern void foreign_check_folder(const Folder *folder, List *files);
extern void foreign_check_script(const MigrationSet *set, const Migration *m,
								 const Script *up);

#endif							/* PG_MIGRATE_FORMATS_H */
