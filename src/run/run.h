/*-------------------------------------------------------------------------
 *
 * run.h
 *	  The runs: apply, run, rollback, status, retry and the lifecycle
 *	  functions, and the background worker that runs no-transaction
 *	  scripts.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_MIGRATE_RUN_H
#define PG_MIGRATE_RUN_H

#include "postgres.h"

#include "storage/dsm.h"
#include "storage/shm_mq.h"
#include "utils/jsonb.h"

#include "exec/exec.h"
#include "inverse/inverse.h"
#include "preflight/preflight.h"

/* status.c: one row of migrate.status() */
typedef struct StatusRow
{
	const char *name;
	const char *version;
	const char *state;			/* pending, failed, applied, modified, missing */
	TimestampTz applied_at;
	bool		applied;
	const char *checksum;
	bool		repeatable;
	const char *down;			/* written, generated, partial, or NULL when
								 * it has no down script (yet) */
} StatusRow;
/* What apply and run were asked for */
typedef struct RunOptions
{
	const char *format;
	bool		allow_drift;
	const char *target;			/* stop after this migration, or NULL */
	bool		retry;			/* run again what failed with the same file */
} RunOptions;

/* How a migration's up script is run */
typedef enum RunMode
{
	MODE_APPLY,					/* in the caller's transaction: apply() */
	MODE_RUN					/* in a transaction of its own, or the worker */
} RunMode;

/* queue.c: what a run of apply or run will execute, checked beforehand */
typedef struct RunQueue
{
	MigrationSet *set;
	bool	   *is_applied;		/* by index in set */
	FailedMigration **failed;	/* by index: its latest attempt, if failed */
	int			last;			/* index of the last migration to run */
	MemoryContext per_migration;	/* reset after each migration */
	bool		runs_any;		/* a migration is to be applied or adopted */
	bool		adopts;			/* one is to be adopted from another tool */
	List	   *drifted;		/* DriftedObjects before the run */
	int64		log_position;	/* DDL log before the migrations not yet
								 * fingerprinted: fingerprint_take_since() */
} RunQueue;

extern void run_queue_prepare(RunQueue *queue, const Folder *folder,
							  const RunOptions *opts, RunMode mode);
extern void emit(ResultSink *sink, const char *name, const char *action,
				 int64 duration_us);
extern void run_queue_fingerprint(RunQueue *queue);
extern bool script_may_bypass_log(const Script *script);

/* migration.c: one migration */
extern int64 apply_one(const MigrationSet *set, const Migration *m,
					   const LoadedMigration *lm, RunMode mode,
					   ExecReport *report);
extern void apply_before_commit(const Migration *m, const LoadedMigration *lm,
								ExecReport *report);
extern void adopt_one(const MigrationSet *set, const Migration *m);

/* retry.c */
extern bool transient_failure(const char *sqlstate);
extern void refuse_failed_again(const Migration *m, const FailedMigration *f,
								bool retry, RunMode mode);
extern void retry_migration(const char *name);

/* apply.c, run.c, rollback.c, status.c: the SQL functions of their names */
extern void apply_folder(const Folder *folder, const RunOptions *opts,
						 ResultSink *sink);
extern void run_folder(const Folder *folder, const RunOptions *opts);
extern void take_session_run_lock(void);
extern void lifecycle_purge_archive(const char *migration, ResultSink *sink);
extern void purge_expired_archives(void);
extern void rollback_from(const char *name, bool skip_partial,
						  ResultSink *sink);
extern void run_rollback_from(const char *name, bool skip_partial);
extern void down_script_row(const char *name, ResultSink *sink);
extern void status_folder(const Folder *folder, const char *format,
						  ResultSink *sink);
extern StatusRow *status_rows(const Folder *folder, const char *format,
							  int *count);
extern void drift_rows(ResultSink *sink);
extern char *drift_list(List *drifted, int max);

/* lifecycle.c */
extern void begin_write(const char *function);
extern void lifecycle_mark_applied(const Folder *folder, const char *format,
								   const char *name, ResultSink *sink);
extern void lifecycle_baseline(const Folder *folder, const char *format,
							   const char *up_to, ResultSink *sink);
extern void lifecycle_forget(const char *name, ResultSink *sink);
extern void lifecycle_accept(const Folder *folder, const char *format,
							 const char *name, ResultSink *sink);
extern void lifecycle_check(const Folder *folder, const char *format);
extern void lifecycle_accept_drift(List *names, bool all, ResultSink *sink);

/* capture.c */
extern void capture_migration(const Folder *folder, const char *format,
							  const char *name, ArrayType *ids,
							  ResultSink *sink);

/* worker.c: a no-transaction script, run by a background worker */
extern void worker_run_script(const Migration *m, const Script *script,
							  Oid role, bool generate_down,
							  ExecReport *report);
extern bool worker_can_log_in_as(Oid role);
extern char *worker_serialize_settings(Size *len, bool fleet);
extern void worker_run_sql(const char *sql);
extern bool worker_run_sql_in(Oid database, Oid role, bool as_superuser,
							  const char *sql);

/* detached.c: runs performed by a background worker of their own */
extern int64 detached_start(const char *kind, Jsonb *args, const char *source,
							bool *attached);
extern void detached_resume(int64 run_id);
extern char *detached_wait(int64 run_id, Interval *timeout, bool rethrow);
extern bool detached_cancel(int64 run_id);
extern bool detached_progress(int64 run_id, uint32 handle,
							  RunProgressState *state, bool *visible);

/*
 * What became of a tenant database (run/tenant_databases.c), as its worker
 * sends it back: state is "applied", "failed" or "skipped"; the error's
 * fields and the file and line of a failed migration, or NULL and 0
 */
typedef struct TenantOutcome
{
	bool		reported;
	const char *state;
	int			migrations;
	int			sqlerrcode;
	int			line;
	const char *message;
	const char *detail;
	const char *hint;
	const char *file;
} TenantOutcome;

/* testdb.c: migrate.test_database(), migrate.drop_test_databases() */
typedef struct TestDatabase
{
	char	   *name;
	char	   *template_name;
	bool		from_pool;
} TestDatabase;
extern void test_database_create(const Folder *folder, const char *format,
								 TestDatabase *out);
extern void test_databases_drop(const char *template_name, Interval *older_than,
								bool templates, ResultSink *sink);

/* worker.c: the workers of migrate.run_tenants(), one queue each */
typedef struct WorkerFleet
{
	int			kind;
	dsm_segment *seg;
	int			nworkers;
	struct shm_mq **mqs;
	shm_mq_handle **queues;
	struct BackgroundWorkerHandle **handles;
	bool	   *done;
	ErrorData  *error;			/* a tenant database's worker's own error */
	TenantOutcome outcome;		/* what it sent back */
} WorkerFleet;
extern void *worker_fleet_create(WorkerFleet *fleet, int nworkers,
								 Size shared_size);
extern void *worker_database_create(WorkerFleet *fleet, Oid database,
									Size shared_size);
extern void worker_fleet_launch(WorkerFleet *fleet);
extern bool worker_fleet_poll(WorkerFleet *fleet);
extern void worker_fleet_wait(WorkerFleet *fleet);
extern void worker_fleet_end(WorkerFleet *fleet);
extern ErrorData *worker_run_statement(const char *sql, MemoryContext cxt);
extern void *worker_fleet_join(Datum arg);
extern void worker_fleet_report(const TenantOutcome *o);
extern void worker_fleet_leave(void);

/* tenants.c: migrate.run_tenants(), tenant_status(), use_tenant() */
typedef struct TenantsRequest
{
	const Folder *folder;
	const char *dir;			/* dir argument, or NULL */
	Jsonb	   *files;			/* files argument, or NULL */
	const char *source;
	RunOptions	opts;
	ArrayType  *tenants;		/* one of these five */
	const char *pattern;
	const char *query;
	ArrayType  *databases;		/* tenant databases */
	const char *database_pattern;
	int			parallel;
	int			canary;
	bool		stop_on_failure;
	int64		run_id;			/* 0: a new one */
} TenantsRequest;
extern int64 run_tenants(TenantsRequest *req);

/* What a phase of a tenant run did */
typedef struct PhaseOutcome
{
	int			applied;
	int			failed;
	int			skipped;
} PhaseOutcome;

/* tenant_databases.c: databases of the cluster as tenants */
extern List *tenant_databases_resolve(const TenantsRequest *req);
extern List *tenant_databases_probe(List *list, int parallel);
extern PhaseOutcome tenant_databases_phase(const char *call, List *list,
										   int first, int count, int parallel,
										   bool stop_on_failure, int64 run_id);
extern void tenant_status(TenantsRequest *req, ResultSink *sink);
extern const char *use_tenant(const char *tenant, bool is_local);

/*
 * SQLSTATEs of the messages the runner raises for clients (the pg_migrate
 * command) at DEBUG1, which psql does not show by default: class 00
 * (successful completion) with subclasses of our own.  A client tells them
 * by SQLSTATE and finds what they are about verbatim in the detail; neither
 * is translated.
 */
#define ERRCODE_MIGRATE_COMMITTED	MAKE_SQLSTATE('0','0','M','0','1')	/* run committed an applied migration: detail is its name */
#define ERRCODE_MIGRATE_ADOPTED		MAKE_SQLSTATE('0','0','M','0','2')	/* run committed an adopted one: detail is its name */
#define ERRCODE_MIGRATE_TOOL		MAKE_SQLSTATE('0','0','M','0','3')	/* the folder's tool applied what is adopted: detail is its name */

#endif							/* PG_MIGRATE_RUN_H */
