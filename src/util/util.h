/*-------------------------------------------------------------------------
 *
 * util.h
 *	  What every layer uses: helpers on strings and lists, checksums, the
 *	  rows of a set-returning function, and the migrate.* settings.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_MIGRATE_UTIL_H
#define PG_MIGRATE_UTIL_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "common/sha2.h"
#include "nodes/pg_list.h"
#include "utils/tuplestore.h"

#define MIGRATE_CHECKSUM_LEN (PG_SHA256_DIGEST_LENGTH * 2)

/* The rows a set-returning SQL function returns */
typedef struct ResultSink
{
	Tuplestorestate *store;
	TupleDesc	desc;
} ResultSink;

/* util.c */
extern bool strip_suffix(char *s, const char *suffix);
extern int	count_newlines(const char *s, size_t len);
extern int	compare_string_cells(const ListCell *a, const ListCell *b);
extern bool string_list_member(List *list, const char *s);
extern void checksum_hex(const char *data, size_t len, char *out);

/* settings.c: the migrate.* settings */
extern int	migrate_lock_timeout;
extern int	migrate_lock_retries;
extern int	migrate_lock_retry_delay;
extern int	migrate_lock_retry_max_time;
extern int	migrate_lock_timeout_in_force(bool *defaulted);
extern int	migrate_statement_timeout;
extern int	migrate_lint_action;
extern int	migrate_lint_large_table_rows;
extern int	migrate_lint_long_transaction;
extern int	migrate_plan_lock_timeout;
extern int	migrate_plan_max_table_size;
extern bool migrate_generate_down;
extern bool migrate_archive_dropped;
extern char *migrate_tenant;
extern int	migrate_archive_max_size;
extern int	migrate_archive_retention;

/* what migrate.lint makes of a finding in apply and run */
typedef enum LintAction
{
	LINT_OFF,
	LINT_WARNING,
	LINT_ERROR
} LintAction;
extern char *migrate_allowed_directories;
extern bool migrate_allowed_directories_rejected;
extern char *migrate_tool_table;

/* the DDL log (tracking/ddl_log.c): what DDL outside a migration meets */
typedef enum DdlPolicy
{
	DDL_POLICY_OFF,				/* nothing is logged */
	DDL_POLICY_RECORD,			/* logged */
	DDL_POLICY_WARN,			/* logged, with a WARNING */
	DDL_POLICY_BLOCK			/* refused */
} DdlPolicy;
extern int	migrate_ddl_policy;
extern bool migrate_ddl_policy_rejected;
extern bool migrate_allow_out_of_band_ddl;
extern int	migrate_ddl_log_retention;
extern int	migrate_test_database_pool;
extern int	migrate_test_database_templates_keep;

extern void settings_define(void);

extern Datum util_text_array(List *items);

#endif							/* PG_MIGRATE_UTIL_H */
