/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  The one place where differences between PostgreSQL 13 and 18 are
 *	  papered over, so the rest of pg_migrate reads as plain PostgreSQL code.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_MIGRATE_COMPAT_H
#define PG_MIGRATE_COMPAT_H

#include "postgres.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_proc.h"
#include "mb/pg_wchar.h"
#if PG_VERSION_NUM >= 140000
#include "common/cryptohash.h"
#endif
#include "common/sha2.h"
#if PG_VERSION_NUM >= 150000
#include "common/pg_prng.h"
#endif
#include "commands/defrem.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/guc_tables.h"

/* PostgreSQL 14 renamed the predefined roles' OID symbols */
#if PG_VERSION_NUM < 140000
#define ROLE_PG_READ_SERVER_FILES DEFAULT_ROLE_READ_SERVER_FILES
#endif

/* PostgreSQL 14 renamed the built-in functions' OID symbols too */
#if PG_VERSION_NUM < 140000
#define F_NEXTVAL F_NEXTVAL_OID
#endif

/* strtoi64() came with PostgreSQL 14; int64 is long or long long */
#if PG_VERSION_NUM < 140000
#define strtoi64(str, endptr, base) ((int64) strtoll((str), (endptr), (base)))
#endif

/* The per-object-type ACL checks became one in 16 */
#if PG_VERSION_NUM >= 160000
#define compat_namespace_aclcheck(nspid, roleid, mode) \
	object_aclcheck(NamespaceRelationId, (nspid), (roleid), (mode))
#else
#define compat_namespace_aclcheck(nspid, roleid, mode) \
	pg_namespace_aclcheck((nspid), (roleid), (mode))
#endif

/*
 * pg_encoding_verifymbstr() (number of valid leading bytes) appeared in 14;
 * older servers only verify one character at a time.
 */
static inline int
compat_valid_prefix_length(int encoding, const char *s, int len)
{
#if PG_VERSION_NUM >= 140000
	return pg_encoding_verifymbstr(encoding, s, len);
#else
	const char *start = s;

	while (len > 0)
	{
		int			l;

		if (*s == '\0')
			break;
		l = pg_encoding_verifymb(encoding, s, len);
		if (l < 0)
			break;
		s += l;
		len -= l;
	}
	return s - start;
#endif
}

/* raw_parser() grew a mode argument in 14 */
#if PG_VERSION_NUM >= 140000
#define compat_raw_parser(str) raw_parser((str), RAW_PARSE_DEFAULT)
#else
#define compat_raw_parser(str) raw_parser(str)
#endif

/* Parse analysis of a statement without parameters got a new name in 15 */
#if PG_VERSION_NUM >= 150000
#define compat_analyze_and_rewrite(raw, sql) \
	pg_analyze_and_rewrite_fixedparams((raw), (sql), NULL, 0, NULL)
#else
#define compat_analyze_and_rewrite(raw, sql) \
	pg_analyze_and_rewrite((raw), (sql), NULL, 0, NULL)
#endif

/* PortalRun() lost its unused run_once argument in 18 */
#if PG_VERSION_NUM >= 180000
#define compat_portal_run(portal, dest, qc) \
	PortalRun((portal), FETCH_ALL, true, (dest), (dest), (qc))
#else
#define compat_portal_run(portal, dest, qc) \
	PortalRun((portal), FETCH_ALL, true, true, (dest), (dest), (qc))
#endif

/* Custom GUC prefixes became reservable in 15 */
#if PG_VERSION_NUM < 150000
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/* REINDEX's options became a generic list in 14 */
static inline bool
compat_reindex_concurrently(ReindexStmt *stmt)
{
#if PG_VERSION_NUM >= 140000
	ListCell   *lc;

	foreach(lc, stmt->params)
	{
		DefElem    *opt = lfirst(lc);

		if (strcmp(opt->defname, "concurrently") == 0)
			return opt->arg == NULL || defGetBoolean(opt);
	}
	return false;
#else
	return stmt->concurrent;
#endif
}

/* DETACH PARTITION ... CONCURRENTLY came in 14 */
#if PG_VERSION_NUM >= 140000
#define compat_detach_concurrent(cmd) ((cmd)->concurrent)
#else
#define compat_detach_concurrent(cmd) ((void) (cmd), false)
#endif

/* MERGE came in 15 */
#if PG_VERSION_NUM >= 150000
#define COMPAT_IS_MERGE(tag) ((tag) == CMDTAG_MERGE)
#else
#define COMPAT_IS_MERGE(tag) false
#endif

/* Before 15 a nonatomic SPI_commit() left the caller to start the next transaction */
#if PG_VERSION_NUM < 150000
#define COMPAT_SPI_COMMIT() do { SPI_commit(); SPI_start_transaction(); } while (0)
#else
#define COMPAT_SPI_COMMIT() SPI_commit()
#endif

/*
 * SHA-256 of a buffer into dest[PG_SHA256_DIGEST_LENGTH]: pg_cryptohash on
 * 14+ (which may fail, e.g. out of memory in OpenSSL), pg_sha256_* on 13.
 */
static inline void
compat_sha256(const uint8 *data, size_t len, uint8 *dest)
{
#if PG_VERSION_NUM >= 140000
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, data, len) < 0 ||
		pg_cryptohash_final(ctx, dest, PG_SHA256_DIGEST_LENGTH) < 0)
#if PG_VERSION_NUM >= 150000
		elog(ERROR, "could not compute SHA-256 checksum: %s",
			 pg_cryptohash_error(ctx));
#else
		elog(ERROR, "could not compute SHA-256 checksum");
#endif
	pg_cryptohash_free(ctx);
#else
	pg_sha256_ctx ctx;

	pg_sha256_init(&ctx);
	pg_sha256_update(&ctx, data, len);
	pg_sha256_final(&ctx, dest);
#endif
}

/*
 * SHA-1 of a buffer as 40 hex digits into out[41] (formats2: Sqitch's
 * script_hash); false on 13, whose common code has no SHA-1.
 */
static inline bool
compat_sha1_hex(const char *data, size_t len, char *out)
{
#if PG_VERSION_NUM >= 140000
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA1);
	uint8		digest[20];

	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute SHA-1 checksum");
	pg_cryptohash_free(ctx);
	for (int i = 0; i < 20; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
	return true;
#else
	out[0] = '\0';
	return false;
#endif
}

/*
 * Whether member may SET ROLE to role: membership before 16, membership
 * with the SET option from 16 on.
 */
static inline bool
compat_can_set_role(Oid member, Oid role)
{
#if PG_VERSION_NUM >= 160000
	return member_can_set_role(member, role);
#else
	return is_member_of_role(member, role);
#endif
}

/*
 * PostgreSQL 17 lets a background worker log in as a role without LOGIN;
 * the flag is defined in postmaster/bgworker.h, included where it is used
 */
#if PG_VERSION_NUM >= 170000
#define COMPAT_BGWORKER_ANY_ROLE BGWORKER_BYPASS_ROLELOGINCHECK
#else
#define COMPAT_BGWORKER_ANY_ROLE 0
#endif

/* PostgreSQL 14 named pg_ls_dir's two forms by their arguments */
#if PG_VERSION_NUM < 140000
#define F_PG_LS_DIR_TEXT F_PG_LS_DIR_1ARG
#define F_PG_LS_DIR_TEXT_BOOL_BOOL F_PG_LS_DIR
#endif

/* PostgreSQL 16 folded the per-catalog ACL checks into object_aclcheck() */
#if PG_VERSION_NUM >= 160000
#define compat_proc_aclcheck(proc, role, mode) \
	object_aclcheck(ProcedureRelationId, (proc), (role), (mode))
#else
#define compat_proc_aclcheck(proc, role, mode) \
	pg_proc_aclcheck((proc), (role), (mode))
#endif

/*
 * A parameter's record (a placeholder too), or NULL: find_option() is
 * exported from 16 on; before, the sorted array is searched by hand.
 */
static inline struct config_generic *
compat_find_guc(const char *name)
{
#if PG_VERSION_NUM >= 160000
	return find_option(name, false, true, ERROR);
#else
	struct config_generic **vars = get_guc_variables();
	int			n = GetNumConfigOptions();

	for (int i = 0; i < n; i++)
		if (pg_strcasecmp(vars[i]->name, name) == 0)
			return vars[i];
	return NULL;
#endif
}

/* Every parameter's record: get_guc_variables() counts them from 16 on */
static inline struct config_generic **
compat_guc_variables(int *count)
{
#if PG_VERSION_NUM >= 160000
	return get_guc_variables(count);
#else
	*count = GetNumConfigOptions();
	return get_guc_variables();
#endif
}

/* A random number in [0, 1): pg_prng from 15 on, random() before */
static inline double
compat_random_fraction(void)
{
#if PG_VERSION_NUM >= 150000
	return pg_prng_double(&pg_global_prng_state);
#else
	return (double) random() / ((double) MAX_RANDOM_VALUE + 1);
#endif
}
/*
 * Every function of a name, whatever its arguments: FuncnameGetCandidates()
 * grew include_out_arguments in 14 (needs catalog/namespace.h)
 */
#if PG_VERSION_NUM >= 140000
#define compat_func_candidates(names) \
	FuncnameGetCandidates((names), -1, NIL, false, false, false, true)
#else
#define compat_func_candidates(names) \
	FuncnameGetCandidates((names), -1, NIL, false, false, true)
#endif

/* ALTER TABLE ... SET ACCESS METHOD came in 15 */
#if PG_VERSION_NUM >= 150000
#define compat_is_set_access_method(subtype) ((subtype) == AT_SetAccessMethod)
#else
#define compat_is_set_access_method(subtype) false
#endif

/*
 * REINDEX's options: a list from 14; 13 has a flag for CONCURRENTLY, given
 * as the option it became (needs nodes/makefuncs.h)
 */
#if PG_VERSION_NUM >= 140000
#define compat_reindex_params(stmt) ((stmt)->params)
#else
#define compat_reindex_params(stmt) \
	((stmt)->concurrent ? list_make1(makeDefElem("concurrently", NULL, -1)) : NIL)
#endif

/* CREATE TABLE AS's kind of relation: relkind until 14 named it objtype */
#if PG_VERSION_NUM >= 140000
#define compat_ctas_objtype(stmt) ((stmt)->objtype)
#else
#define compat_ctas_objtype(stmt) ((stmt)->relkind)
#endif

/*
 * CREATE DATABASE ... STRATEGY came in 15.  For a test database cloned
 * from a template of a few MB, FILE_COPY measured faster than WAL_LOG
 * (the default), see test/bench/testdb.sh; 13 and 14 always copy files.
 */
#if PG_VERSION_NUM >= 150000
#define COMPAT_CREATEDB_CLONE_STRATEGY " STRATEGY = FILE_COPY"
#else
#define COMPAT_CREATEDB_CLONE_STRATEGY ""
#endif

#endif							/* PG_MIGRATE_COMPAT_H */
