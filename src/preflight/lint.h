/*-------------------------------------------------------------------------
 *
 * lint.h
 *	  What lint.c, which walks a migration's statements, shares with
 *	  lint_rules.c, which judges one parsed statement against the catalog.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_MIGRATE_LINT_H
#define PG_MIGRATE_LINT_H

#include "postgres.h"
#include "nodes/parsenodes.h"

#include "pg_migrate.h"

/* A relation the migration will lock, and the lock modes it takes on it */
typedef struct LintLock
{
	Oid			relid;
	char	   *relname;
	int			modes;			/* LOCKMASK of the modes taken */
	int			line;			/* first statement that locks it */
} LintLock;

/* An enum value added by ALTER TYPE ... ADD VALUE to a type that existed */
typedef struct LintEnumValue
{
	char	   *type;
	char	   *value;
	int			line;
} LintEnumValue;

/*
 * The lint of one migration: what the statements seen so far left behind.
 * Findings, locks and enum values live in cxt; a statement's parse tree
 * lives in a context reset after it.
 */
typedef struct LintState
{
	MemoryContext cxt;
	bool		no_transaction; /* the migration runs outside a transaction */
	const Statement *stmt;		/* the statement being judged */
	List	   *findings;		/* LintFinding */
	List	   *locks;			/* LintLock */
	List	   *enum_values;	/* LintEnumValue */
	bool		exclusive_noted;	/* lock_timeout_unset said of stmt */
} LintState;

/* lint_rules.c */
extern void lint_statement(LintState *st, Node *node);
extern void lint_add(LintState *st, const char *rule, int line,
					 char *message, char *hint);
extern bool lint_rule_known(const char *rule);

#endif							/* PG_MIGRATE_LINT_H */
