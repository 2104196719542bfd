/*-------------------------------------------------------------------------
 *
 * exec.h
 *	  Running a script's statements through SPI: statement by statement
 *	  with its file and line in errors, lock retries and subtransactions,
 *	  PL/pgSQL line numbers, and the invalid indexes a script leaves.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_MIGRATE_EXEC_H
#define PG_MIGRATE_EXEC_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "port/atomics.h"
#include "storage/dsm.h"
#include "storage/spin.h"

#include "script/script.h"

/*
 * What running a migration's script reports beside its error, for its
 * history row: owned by whoever runs the migration and records it, zeroed
 * by it, and filled in by the calls it passes it to.
 */
typedef struct ExecReport
{
	int			error_line;		/* file line of the statement that failed,
								 * or 0 when unknown */
	int			lock_retries;	/* lock waits retried (lock_retry.c) */
	/* for the NOTICEs and the error of lock retries (lock_retry.c): */
	const char *migration;		/* the migration's name, or NULL */
	const char *file;			/* the file of the script running */
	int			lock_line;		/* line of the statement whose lock wait
								 * last timed out */
	int			lock_timeout;	/* the lock_timeout it ran with (ms) */
	char		lock_relation[2 * NAMEDATALEN + 8]; /* the table it names,
													 * quoted, or "" */
	char	   *generated_down; /* the down script the background worker
								 * generated, or NULL */
	char	   *generated_partial;	/* what it does not undo, as JSON, or
									 * NULL */
} ExecReport;

/* execute.c */
typedef void (*statement_runner) (const Statement *stmt, const char *sql,
								  ExecReport *report);

/*
 * Called by execute_script() around each statement, in the statement's
 * error context and memory context: before it runs, and after it ran.
 */
typedef struct StatementObserver
{
	void		(*before) (void *arg, const Statement *stmt, const char *sql);
	void		(*after) (void *arg, const Statement *stmt, const char *sql);
	void	   *arg;
} StatementObserver;

extern void execute_script(const Script *script, const StatementList *statements,
						   statement_runner run,
						   const StatementObserver *observer,
						   ExecReport *report);
extern void execute_spi_statement(const Statement *stmt, const char *sql,
								  ExecReport *report);
extern void run_until_deadline(TimestampTz deadline, void (*fn) (void *arg),
							   void *arg);
extern SPIPlanPtr spi_prepare(const char *query, int nargs, Oid *types,
							   int cursor_options);
extern void spi_run(const char *query, int nargs, Oid *types, Datum *values,
					const char *nulls, int expected);
extern List *spi_first_column(void);
extern const char *exec_current_statement(void);
extern void exec_note_lock_wait(ExecReport *report, const char *sql, int line);

/* plpgsql_lines.c */
extern void plpgsql_lines_start(void);
extern int	plpgsql_lines_stop(void);

/* indexes.c */
extern List *invalid_indexes(void);
extern List *indexes_left_invalid(const Script *script, List *before);
extern List *indexes_created_invalid(const Script *script);
extern char *drop_index_commands(List *indexes);

/* lock_retry.c */
extern bool lock_retry_pause(ErrorData *edata, int attempt,
							 TimestampTz started, ExecReport *report);
extern bool lock_retry_pause_or_fail(ErrorData **edata, int attempt,
									 TimestampTz started, ExecReport *report);
extern ErrorData *try_in_subtransaction(void (*fn) (void *arg), void *arg);
extern ErrorData *try_in_subtransaction_or_undo(bool (*fn) (void *arg),
												void *arg);
extern void execute_spi_statement_retrying(const Statement *stmt, const char *sql,
										   ExecReport *report);

/*
 * progress.c: a detached run's progress, in a DSM segment that readers
 * attach (see progress.c for why not a table row).
 */
#define PROGRESS_RING_SIZE	(256 * 1024)

typedef struct RunProgressState
{
	int			worker_pid;		/* the run's backend, once started */
	int			statement_pid;	/* the process running the statement */
	bool		cancel_requested;
	bool		done;			/* the run's row holds its outcome */
	int			migration_number;	/* of migrations, those pending */
	int			migrations;
	char		migration[NAMEDATALEN * 4];
	int			statement_number;	/* of statements, in the script */
	int			statements;
	int			line;			/* the statement's line in file */
	char		file[MAXPGPATH];
	int			applied;		/* migrations committed by the run */
} RunProgressState;

typedef struct RunProgress
{
	uint32		magic;
	int64		run_id;
	Oid			role;			/* who started the run */
	slock_t		mutex;
	RunProgressState s;			/* under mutex */
	pg_atomic_uint64 written;	/* bytes written to ring, ever */
	char		ring[PROGRESS_RING_SIZE];	/* messages: length, bytes */
} RunProgress;

extern RunProgress *run_progress;
extern uint32 run_progress_handle;
extern dsm_segment *progress_create(int64 run_id, Oid role);
extern RunProgress *progress_attach(uint32 handle, int64 run_id,
									dsm_segment **seg);
extern void progress_read(RunProgress *p, RunProgressState *copy);
extern void progress_set_migration(int number, int total, const char *name);
extern void progress_migration_done(void);
extern void progress_set_statement(int number, int total, int line,
								   const char *file);
extern void progress_write_message(const char *data, uint32 len);
extern bool progress_read_message(RunProgress *p, uint64 *pos,
								  StringInfo out);

#endif							/* PG_MIGRATE_EXEC_H */
