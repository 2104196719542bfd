/*-------------------------------------------------------------------------
 *
 * pg_migrate.c
 *	  Module entry point of pg_migrate, the schema migration runner that
 *	  lives inside PostgreSQL.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "util/util.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	settings_define();
}
