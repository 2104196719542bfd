/*-------------------------------------------------------------------------
 *
 * tracking.h
 *	  The tracking tables (migrate.migrations, migrate.history) and the DDL
 *	  log (migrate.ddl_log): reading and writing them; the schema's
 *	  fingerprint (migrate.fingerprint) and the drift from it; and the run
 *	  lock, which serialises the runs that write them.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_MIGRATE_TRACKING_H
#define PG_MIGRATE_TRACKING_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "tcop/cmdtag.h"
#include "utils/array.h"

#include "exec/exec.h"
#include "formats/formats.h"

/* tracking.c */

/* The user we were before taking on the tracking tables' owner */
typedef struct OwnerSwitch
{
	Oid			saved_user;
	int			saved_context;
} OwnerSwitch;

extern void tracking_become_owner(OwnerSwitch *sw);
extern void tracking_restore_user(OwnerSwitch *sw);
typedef struct AppliedMigration
{
	char	   *name;
	char	   *version;
	char	   *checksum;
	TimestampTz applied_at;
	bool		has_down;
	bool		repeatable;
	char	   *format;			/* format of the folder it came from */
	char	   *down_sql;		/* only from tracking_rollback_targets() and
								 * tracking_find() */
	char	   *applied_by;		/* likewise */
	char	   *up_sql;			/* only from tracking_find() */
	bool		no_transaction; /* only from tracking_find() */
	char	   *source;			/* only from tracking_rollback_targets() and
								 * tracking_forget() */
	/* from tracking_rollback_targets(); down_generated from the three
	 * functions above, partial_count from tracking_applied() too: */
	bool		down_generated;
	int			partial_count;	/* statements its down script does not
								 * undo (entries of down_partial) */
	char	   *partial_file;	/* the first of them */
	int			partial_line;
	char	   *partial_reason;
	char	   *down_partial;	/* only from tracking_find(): the list, as
								 * JSON, or NULL */
} AppliedMigration;

extern List *tracking_applied(void);
extern List *tracking_rollback_targets(const char *name);
extern void tracking_record_apply(const MigrationSet *set, const Migration *m,
								  const LoadedMigration *lm,
								  const char *checksum, int64 duration_us,
								  const char *action, int lock_retries);
extern void tracking_record_adopt(const MigrationSet *set, const Migration *m,
								  const LoadedMigration *lm);
extern void tracking_record_tool(const char *action, const char *name,
								 const char *source, const char *checksum,
								 const char *tool_table);
extern void tracking_record_rollback(const char *name, int64 duration_us,
									 const char *caller, const char *ran_as,
									 int lock_retries);
extern void tracking_check_snapshot(const char *function);
extern bool tracking_stores_generated_down(void);
extern bool tracking_has_tenants(void);
extern const char *tenant_filter(const char *alias);
extern void tracking_record_failure(const MigrationSet *set, const Migration *m,
									ErrorData *edata, int line);
/* A migration whose latest attempt failed */
typedef struct FailedMigration
{
	char	   *name;
	char	   *checksum;		/* of the script that failed, or NULL */
	char	   *sqlstate;
	char	   *message;
	char	   *file;
	int			line;			/* 0 when unknown */
	TimestampTz failed_at;
	int			attempts;		/* failures in a row */
	bool		refusal_logged; /* a run refused it since */
} FailedMigration;

extern List *tracking_failures(void);
extern void tracking_record_action(const char *action, const char *name,
								   const char *checksum);
extern void tracking_record_index_rebuilt(const char *name,
										  const char *detail);
extern void tracking_record_drift_accepted(const char *identity,
										   const char *detail);
extern AppliedMigration *tracking_find(const char *name);
extern void tracking_record_accept(const MigrationSet *set, const Migration *m,
								   const LoadedMigration *lm,
								   const char *old_checksum);
extern AppliedMigration *tracking_forget(const char *name);
extern void run_tracking_query(const char *query, int nargs, Oid *types,
							   Datum *values, const char *nulls, int expected);
extern void tracking_record_lint_allowed(const Migration *m, const char *file,
										 int line, const char *rule,
										 const char *finding);

/* ddl_log.c: the DDL log, and the mark on the migration being run */
typedef enum DdlEvent
{
	DDL_EVENT_COMMAND,			/* ddl_command_end */
	DDL_EVENT_DROP,				/* sql_drop */
	DDL_EVENT_REWRITE			/* table_rewrite */
} DdlEvent;

extern void ddl_log_mark(const char *name, const char *source, bool logged);
extern void ddl_log_unmark(void);
extern bool ddl_log_marked(const char **name, const char **source);
extern void ddl_log_record(DdlEvent event, CommandTag tag, const void *command);
extern void ddl_log_check_start(CommandTag tag, Node *parsetree);
extern void ddl_log_prune(void);

/* ddl_log.c: the rows migrate.capture() makes a migration of */
typedef struct DdlLogRow
{
	int64		id;
	bool		found;			/* false: no row has that id */
	char	   *origin;
	char	   *captured_as;	/* or NULL */
	char	   *statement;		/* or NULL */
	char	   *xid;			/* as text, or NULL */
	int32		backend_pid;
	char	   *object_type;	/* or NULL */
	char	   *object_identity;	/* or NULL */
	char	   *role;			/* session_user_name */
	char	   *application;	/* or NULL */
	char	   *logged_at;		/* UTC, to the second */
} DdlLogRow;

extern List *ddl_log_capture_rows(ArrayType *ids);
extern void ddl_log_set_captured(ArrayType *ids, const char *name);

/* fingerprint.c: an object changed since the last migration */
typedef struct DriftedObject
{
	char	   *object_type;	/* as pg_identify_object() names them */
	char	   *object_identity;
	char	   *parent;			/* "type identity" of its table (or type), or
								 * NULL: the DDL log names a column's change
								 * by its table (ALTER TABLE) */
	char	   *change;			/* added, removed, changed */
	char	   *description;
	char	   *changed_by;		/* session user of the DDL log row, or NULL */
	TimestampTz changed_at;		/* its time, or DT_NOBEGIN */
} DriftedObject;

extern bool fingerprint_available(void);
extern bool fingerprint_taken(void);
extern List *fingerprint_drift(void);
extern void fingerprint_take(List *keep);
extern bool fingerprint_knows(const char *name);
extern void fingerprint_changed_by(List *drifted);
extern void fingerprint_accept(List *accepted, List *keep);
extern int64 fingerprint_log_position(void);
extern void fingerprint_take_since(List *keep, int64 *position);

/* fingerprint.c: migrate.schema_objects() read at one moment */
typedef struct SchemaObject
{
	char	   *object_type;
	char	   *object_identity;
	char	   *parent;			/* "type identity" of its table, or NULL */
	char	   *digest;
	char	   *definition;
} SchemaObject;

typedef struct SchemaObjects
{
	int			count;
	SchemaObject *items;		/* by type, then identity, byte order */
} SchemaObjects;

extern SchemaObjects *schema_objects_read(void);
extern List *schema_differences(const SchemaObjects *before,
								const SchemaObjects *after);

/* run_lock.c: the lock that serialises runs on one database */
extern void take_run_lock(bool session);
extern void release_run_lock(void);
extern Oid	tenant_schema_oid(const char *tenant);

/* worker.c: how pg_stat_activity and the run lock know our workers */
#define MIGRATE_WORKER_TYPE "pg_migrate worker"

#endif							/* PG_MIGRATE_TRACKING_H */
