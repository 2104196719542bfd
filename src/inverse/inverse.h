/*-------------------------------------------------------------------------
 *
 * inverse.h
 *	  Down scripts generated as an up script runs: before each statement,
 *	  what it is about to change is read from the catalog; after it, its
 *	  inverse is written down.  Statements that cannot be undone make the
 *	  generated script partial, with the reason.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_MIGRATE_INVERSE_H
#define PG_MIGRATE_INVERSE_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"

#include "script/script.h"

/*
 * A statement, or a run of statements one after the other, that the
 * generated script does not undo, and why.  A seed script of a million
 * INSERTs makes one entry, not a million.
 */
typedef struct InversePartial
{
	int			line;
	int			last_line;		/* of the last statement of the run */
	int			count;
	int			last_index;		/* index of that statement in the script */
	char	   *statement;		/* the first line of the first one */
	char	   *reason;
} InversePartial;

/*
 * A down script being generated for one up script.  Everything it holds
 * lives in cxt, which outlives the statements' own memory.
 */
typedef struct DownGenerator
{
	MemoryContext cxt;
	const char *file;			/* the up script's file, for the partial list */
	bool		top_level;		/* statements run outside a transaction block
								 * (the background worker) */
	List	   *blocks;			/* each statement's inverse, newest first */
	List	   *partials;		/* InversePartial, in file order */
	List	   *latest_created; /* OIDs of the relations the latest
								 * statement that made anything created:
								 * their DROP undoes what is done to them
								 * next */
	int			created_at;		/* index of that statement */
	bool		keep_rows;		/* the script says "-- migrate:keep-rows":
								 * the rows its UPDATEs and DELETEs change
								 * are archived */
	bool		no_transaction; /* an inverse must run outside a transaction
								 * block */
	List	   *created;		/* OIDs of the tables the script made: the
								 * rows it writes into them need no inverse */
	/* the statement running now: what inverse_before() captured */
	int			index;
	int			line;
	char	   *statement;		/* its first line, for comments */
	Node	   *parsetree;
	void	   *captured;
	List	   *inverses;		/* its inverses, in the order written */
	List	   *notes;			/* comments on them, for the reader */
	bool		skip;			/* it needs no inverse */
	bool		on_created;		/* it changes only relations in
								 * latest_created */
	uint16		tag;			/* its CommandTag */
} DownGenerator;

/* inverse.c: the generator */
extern DownGenerator *inverse_start(const Script *up, bool top_level);
extern void inverse_before(DownGenerator *g, const Statement *stmt,
						   const char *sql);
extern void inverse_after(DownGenerator *g, const Statement *stmt,
						  const char *sql);
extern char *inverse_script(DownGenerator *g);
extern char *inverse_partial_json(DownGenerator *g);

/* capture.c: what the statement families share */
extern void inverse_add(DownGenerator *g, const char *fmt,...) pg_attribute_printf(2, 3);
extern void inverse_partial(DownGenerator *g, const char *fmt,...) pg_attribute_printf(2, 3);
extern void inverse_note(DownGenerator *g, const char *fmt,...) pg_attribute_printf(2, 3);
extern List *inverse_query(const char *query, int nargs, Oid *types,
						   Datum *values, int ncols);
extern char *inverse_query_value(const char *query, Oid arg);
extern char *inverse_trim(char *def);
extern char *qualified_relation(Oid relid);
extern void inverse_created_relation(DownGenerator *g, Oid relid, bool table);
extern Oid	creation_namespace_of(RangeVar *rv);

/* create.c: CREATE of every kind, CREATE OR REPLACE */
extern void inverse_create_before(DownGenerator *g, Node *node);
extern void inverse_create_after(DownGenerator *g, Node *node);
extern char *view_definition(Oid relid, int *columns);
extern bool inverse_create_table_plain(Node *node);
extern void inverse_create_table_after(DownGenerator *g, CreateStmt *stmt);

/* drop.c: DROP of what can be made again from its definition */
extern void inverse_drop_before(DownGenerator *g, DropStmt *stmt);

/* table.c: ALTER TABLE, as the difference of the table before and after */
extern void inverse_alter_table_before(DownGenerator *g, AlterTableStmt *stmt);
extern void inverse_alter_table_after(DownGenerator *g, AlterTableStmt *stmt);
extern bool table_definition(Oid relid, List **create, List **then,
							 char **reason);

/* enum.c: ALTER TYPE ... ADD VALUE, by making the type again */
extern void inverse_enum_add_value(DownGenerator *g, AlterEnumStmt *stmt);

/* privileges.c: GRANT, REVOKE, ALTER ... OWNER TO */
extern void inverse_grant_before(DownGenerator *g, GrantStmt *stmt);
extern void inverse_grant_after(DownGenerator *g, GrantStmt *stmt);
extern void inverse_owner_before(DownGenerator *g, AlterOwnerStmt *stmt);

/* archive.c: dropped rows and values kept for the generated down script */
typedef struct ArchivedItem
{
	char	   *migration;
	char	   *kind;			/* "table", "column" or "rows" */
	char	   *object;			/* the table or column, qualified and quoted */
	char	   *archive_name;	/* its table in schema migrate_archive */
	int64		rows;
	int64		bytes;
	char	   *restore_sql;	/* the statement of the down script */
	char	   *reason;			/* why it is not undone once purged */
	char	   *file;			/* the up script's file, line and statement */
	int			line;
	char	   *statement;
} ArchivedItem;

extern void archive_begin(const char *migration);
extern void archive_end(void);
extern List *archive_table(DownGenerator *g, Oid relid);
extern char *archive_column(DownGenerator *g, Oid relid, const char *column);
extern void archive_rows(DownGenerator *g, Node *node);
extern void archive_rows_after(DownGenerator *g);
extern List *archive_purge(const char *migration);
extern void archive_release(const char *migration, const char *down_sql);

#endif							/* PG_MIGRATE_INVERSE_H */
