/*-------------------------------------------------------------------------
 *
 * preflight.h
 *	  What is checked before a migration runs: drift, edited files, every
 *	  pending script (preflight.c), lint's findings on the live tables
 *	  (lint.c, lint_rules.c), migrate.plan()'s rehearsal (plan.c), and
 *	  migrate.verify()'s round trips of up and down scripts (verify.c).
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_MIGRATE_PREFLIGHT_H
#define PG_MIGRATE_PREFLIGHT_H

#include "postgres.h"

#include "nodes/parsenodes.h"

#include "exec/exec.h"
#include "inverse/inverse.h"
#include "tools/tools.h"

/* preflight.c */
typedef struct CheckProblem
{
	const char *file;
	int			line;			/* 0 when unknown */
	ErrorData  *edata;
} CheckProblem;

extern void check_drift(const MigrationSet *set, List *applied, bool allow_drift);
extern StatementList *script_split_to_run(const Script *script, bool down,
								   bool in_transaction, bool *unwrapped);
extern void down_checksum(const LoadedMigration *lm, char *out);
extern void check_unchanged(const MigrationSet *set, const Migration *m,
							const LoadedMigration *lm);
extern void load_as_checked(const MigrationSet *set, const Migration *m,
							LoadedMigration *lm);
extern void check_pending(const MigrationSet *set, Migration *m,
						  const LoadedMigration *lm, bool in_one_transaction);
extern void warn_broken_down(const Migration *m, const LoadedMigration *lm);
extern void report_problems(const MigrationSet *set, List *problems);
extern void execute_in_transaction(const Script *script,
								   const StatementList *stmts,
								   bool retry_statements, DownGenerator *down,
								   ExecReport *report);

/* lint.c: findings on pending migrations, from parse trees and the catalog */
typedef struct LintFinding
{
	const char *rule;			/* stable name, see lint_rules.c */
	const char *severity;		/* "error" (it will fail) or "warning" */
	int			line;
	char	   *message;
	char	   *hint;
} LintFinding;

extern List *lint_migration(const Script *script, const StatementList *stmts,
							bool no_transaction, bool errors_as_findings);
extern List *lint_reported(const Script *script, const StatementList *stmts,
						   bool no_transaction);
extern void lint_pending(const Migration *m, const LoadedMigration *lm,
						 const StatementList *stmts,
						 const StatementList *after_commit);
extern void lint_folder(const Folder *folder, const char *format,
						ResultSink *sink);

/* plan.c */
extern void plan_folder(const Folder *folder, const char *format,
						ResultSink *sink);
extern StatementList *pending_statements(const LoadedMigration *lm,
										 bool *no_transaction,
										 CommitSplit *split);
extern const char *lasting_effect(List *parsed);

/* verify.c */
extern void verify_folder(const Folder *folder, const char *format,
						  ResultSink *sink);


/* The lint of one migration, as lint.c walks it and lint_rules.c judges it */

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

/* lint_rules.c: one parsed statement judged against the catalog */
extern void lint_statement(LintState *st, Node *node);
extern void lint_add(LintState *st, const char *rule, int line,
					 char *message, char *hint);
extern bool lint_rule_known(const char *rule);

#endif							/* PG_MIGRATE_PREFLIGHT_H */
