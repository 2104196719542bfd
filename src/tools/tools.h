/*-------------------------------------------------------------------------
 *
 * tools.h
 *	  Other tools' tracking tables (drizzle-orm's, dbmate's,
 *	  golang-migrate's, Flyway's; Prisma's, goose's, sqlx's, Diesel's): finding, checking, reading and writing
 *	  them as the tool would, and what a folder has applied by either table.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_MIGRATE_TOOLS_H
#define PG_MIGRATE_TOOLS_H

#include "postgres.h"

#include "storage/itemptr.h"
#include "utils/relcache.h"

#include "formats/formats.h"
#include "tracking/tracking.h"

/*
 * Another tool's tracking table (drizzle-orm's, dbmate's, golang-migrate's,
 * Flyway's), as tool_table.c finds, checks, reads and writes it: the
 * columns pg_migrate uses, and how the tool creates it, for messages.
 */
#define TOOL_MAX_COLUMNS 10		/* formats2: Atlas's row has 9 */

typedef struct ToolColumn
{
	const char *name;
	Oid			type;			/* as the tool creates it */
	Oid			alt_type;		/* also accepted (text for varchar), or
								 * InvalidOid */
} ToolColumn;

typedef struct ToolTableSpec
{
	const char *tool;			/* "golang-migrate", named in messages */
	const char *schema;			/* the tool's default schema, or NULL for
								 * the current schema, as the tool uses */
	const char *name;			/* the tool's default table name */
	const char *definition;		/* "(version bigint ...)" as the tool
								 * creates it, for hints */
	const char *columns_text;	/* "version bigint and dirty boolean" */
	bool		written;		/* pg_migrate writes it, not only reads it */
	int			ncolumns;
	ToolColumn	columns[TOOL_MAX_COLUMNS];
} ToolTableSpec;

/* A tool's table, locked and checked */
typedef struct ToolTable
{
	const ToolTableSpec *spec;
	Relation	rel;
	char	   *qualified;		/* its schema-qualified name, quoted as
								 * needed */
	AttrNumber	attnums[TOOL_MAX_COLUMNS];	/* of spec->columns */
} ToolTable;

/* One of its rows: where it is, and the spec's columns as text */
typedef struct ToolRow
{
	ItemPointerData tid;
	char	   *values[TOOL_MAX_COLUMNS];	/* NULL for a null */
} ToolRow;

/*
 * What a format whose tool keeps its own table does with it.  adopt marks
 * as adopted the migrations of set that the table records as applied and
 * that are not applied already (applied[i]); record and forget write the
 * table as the tool would after m was applied or am rolled back, and say
 * whether they changed it.  Without record and forget, the table is only
 * read.  check, when set, refuses a table the tool itself would not go on
 * with (adopt, record and forget refuse it too): a rollback asks before
 * undoing anything.
 */
typedef void (*tool_table_creator) (const char *schema, const char *name);

typedef struct ToolInterop
{
	const char *format;			/* the name of its folders' format */
	const ToolTableSpec *table;
	tool_table_creator create;	/* creates the table when the first apply
								 * finds none, as the tool does; or NULL */
	void		(*adopt) (ToolTable *t, MigrationSet *set, const bool *applied);
	bool		(*record) (ToolTable *t, const MigrationSet *set,
						   const Migration *m);
	bool		(*forget) (ToolTable *t, const AppliedMigration *am);
	void		(*check) (ToolTable *t);
	/* formats2: after m ran, before it is recorded (Sqitch's verify), or NULL */
	void		(*after_apply) (const MigrationSet *set, const Migration *m);
} ToolInterop;

/* tool_table.c: the checked table, for the interop hooks */
extern ToolTable *tool_table_open(const ToolTableSpec *spec, bool write,
								  tool_table_creator create);
extern void tool_table_close(ToolTable *t);
extern bool tool_version_int64(const char *digits, int64 *out);
extern List *tool_table_rows(ToolTable *t);
extern void tool_table_delete(ToolTable *t, const ToolRow *row);
extern void tool_table_insert(ToolTable *t, int ncolumns, const int *columns,
							  const Oid *types, Datum *values);
extern void tool_table_check_writers(const ToolTable *t,
									 const Migration *adopted);

/*
 * keyed_rows.c: a table of one row per applied migration, found by one
 * column, for the tools that keep one (dbmate, drizzle-orm); key gives a
 * migration's value of that column.
 */
typedef const char *(*migration_key) (const Migration *m);

extern List *keyed_rows_keys(ToolTable *t, int column);
extern void keyed_rows_adopt(ToolTable *t, int column, MigrationSet *set,
							 const bool *applied, migration_key key);
extern bool keyed_rows_record(ToolTable *t, int column, const char *key,
							  int ncolumns, const int *columns,
							  const Oid *types, Datum *values);
extern bool keyed_rows_forget(ToolTable *t, int column, const char *key);

/* interop.c: what the runs ask of the folder's tool's table */
extern void interop_adopt(MigrationSet *set, const bool *applied);
extern void interop_prepare(const MigrationSet *set);
extern void interop_record(const MigrationSet *set, const Migration *m);
extern void interop_forget(const AppliedMigration *am);
extern void interop_check_forget(List *targets);
extern const char *interop_tool(const MigrationSet *set);

/* the tools: drizzle_table.c, dbmate_table.c, golang_migrate_table.c,
 * flyway_table.c */
extern const ToolInterop drizzle_interop;
extern List *drizzle_applied_hashes(void);
extern const ToolInterop dbmate_interop;
extern const ToolInterop golang_interop;
extern const ToolInterop flyway_interop;

/* the tools of issue 16 (formats1): prisma_table.c, goose_table.c,
 * sqlx_table.c, diesel_table.c */
extern const ToolInterop prisma_interop;
extern const ToolInterop goose_interop;
extern const ToolInterop sqlx_interop;
extern const ToolInterop diesel_interop;
/*
 * formats2's tools: node_pg_migrate_table.c, atlas_table.c, sqitch_table.c,
 * liquibase_table.c
 */
extern const ToolInterop node_pg_migrate_interop;
extern const ToolInterop atlas_interop;
extern const ToolInterop sqitch_interop;
extern const ToolInterop liquibase_interop;


/* applied.c: a folder's migrations beside what is applied, and what failed */
typedef struct AppliedSet
{
	MigrationSet *set;
	List	   *applied;		/* AppliedMigration, in the order applied */
	bool	   *is_applied;		/* by index in set; adopted ones too */
	Migration **match;			/* by position in applied: the folder's
								 * migration of that name, or NULL */
} AppliedSet;

typedef void (*applied_check) (const MigrationSet *set, List *applied,
							   void *arg);

extern void applied_set_load(AppliedSet *as, const Folder *folder,
							 const char *format, int elevel,
							 applied_check check, void *arg);
extern FailedMigration **failed_by_index(const MigrationSet *set);

#endif							/* PG_MIGRATE_TOOLS_H */
