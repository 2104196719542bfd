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

#include "script/script.h"

/* execute.c */
typedef void (*statement_runner) (const Statement *stmt, const char *sql);
extern void execute_script(const Script *script, const StatementList *statements,
						   statement_runner run);
extern void execute_spi_statement(const Statement *stmt, const char *sql);
extern void run_until_deadline(TimestampTz deadline, void (*fn) (void *arg),
							   void *arg);
extern void spi_run(const char *query, int nargs, Oid *types, Datum *values,
					const char *nulls, int expected);
extern List *spi_first_column(void);
extern int	script_error_line;

/* plpgsql_lines.c */
extern void plpgsql_lines_start(void);
extern int	plpgsql_lines_stop(void);

/* indexes.c */
extern List *invalid_indexes(void);
extern List *indexes_left_invalid(const Script *script, List *before);
extern char *drop_index_commands(List *indexes);

/* lock_retry.c */
extern int	lock_retry_count;
extern bool lock_retry_pause(ErrorData *edata, int attempt);
extern bool lock_retry_pause_or_fail(ErrorData **edata, int attempt);
extern ErrorData *try_in_subtransaction(void (*fn) (void *arg), void *arg);
extern void execute_spi_statement_retrying(const Statement *stmt, const char *sql);

#endif							/* PG_MIGRATE_EXEC_H */
