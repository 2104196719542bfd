/*-------------------------------------------------------------------------
 *
 * pg_migrate.c
 *	  Module entry point of pg_migrate, the schema migration runner that
 *	  lives inside PostgreSQL: the settings it reads.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "utils/guc.h"

#include "compat.h"
#include "pg_migrate.h"

PG_MODULE_MAGIC;

/* 0 leaves the session's own lock_timeout / statement_timeout in force */
int			migrate_lock_timeout = 0;
int			migrate_statement_timeout = 0;

/* empty: any folder the caller may read; else only folders below these */
char	   *migrate_allowed_directories = NULL;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomIntVariable("migrate.lock_timeout",
							"Longest wait for a lock by any migration statement.",
							"Zero leaves the session's own lock_timeout in force.",
							&migrate_lock_timeout,
							0, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.statement_timeout",
							"Longest run time of any migration statement.",
							"Zero leaves the session's own statement_timeout in force.",
							&migrate_statement_timeout,
							0, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomStringVariable("migrate.allowed_directories",
							   "Folders below which migrations may be read.",
							   "A comma-separated list of absolute paths; empty allows any folder the caller may read.",
							   &migrate_allowed_directories,
							   "",
							   PGC_SUSET,
							   GUC_LIST_INPUT,
							   NULL, NULL, NULL);

	MarkGUCPrefixReserved("migrate");
}
