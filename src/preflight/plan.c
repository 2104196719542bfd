/*-------------------------------------------------------------------------
 *
 * plan.c
 *	  migrate.plan(): a test run of the pending migrations of a folder,
 *	  statement by statement, that is always rolled back, reporting for
 *	  each statement the locks it took (read from the lock manager),
 *	  whether it rewrote its table, the table's size before, how long it
 *	  took, its lint findings and its error.
 *
 * Everything runs in one internal subtransaction, rolled back at the end
 * whatever happened: nothing is recorded in the tracking tables, and no
 * lock, the run lock included, outlives the call.  Each migration runs in
 * a subtransaction of its own inside it, kept when the migration ran
 * through (later migrations build on it, as in a real run) and rolled back
 * when a statement failed: the rest of that migration is not executed, as
 * its later statements depend on what failed, and the later migrations
 * are planned on the state a real run would have left had it stopped
 * before the failed one.  They may fail for the same cause.
 *
 * The plan must not stall the application.  Keeping a migration keeps its
 * locks, which only a rollback releases, and a rollback would take away
 * what the later migrations build on; so migrate.plan_lock_timeout bounds
 * both how long a statement waits for a lock and how long the plan holds
 * the locks of the migrations it kept: when that runs out the statement
 * running is canceled, everything is rolled back and the rest is analysed
 * only.  A statement on a table (or inheritance tree) larger than
 * migrate.plan_max_table_size is analysed but not executed, as is the
 * rest of its migration, and so is a statement whose effect no rollback
 * undoes.  Migrations marked (or found) to run outside a transaction block
 * cannot be rolled back, so they are analysed only.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/parser.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/cmdtag.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "util/compat.h"
#include "preflight/preflight.h"

/* A table a statement names, as it was before the statement ran */
typedef struct PlanRel
{
	Oid			relid;
	char	   *name;			/* named in the locks once it is dropped */
	Oid			relfilenode;
	double		rows;			/* pg_class.reltuples; < 0 when unknown */
	int64		size;			/* pg_total_relation_size() */
} PlanRel;

/* A relation lock this backend holds, and its modes */
typedef struct HeldLock
{
	Oid			relid;
	LOCKMASK	mask;
} HeldLock;

/* One row of migrate.plan() */
typedef struct PlanRow
{
	const char *migration;
	const char *file;
	int			line;			/* 0: none */
	const char *command;		/* NULL: none */
	bool		executed;
	List	   *locks;			/* "relation Mode" strings, NIL and
								 * locks_known false when not measured */
	bool		locks_known;
	int			rewrite;		/* -1 unknown, 0 no, 1 yes */
	PlanRel    *rel;			/* the statement's table, or NULL */
	int64		duration_us;	/* < 0: not measured */
	List	   *findings;		/* "rule: message" strings */
	char	   *error;
	const char *note;
} PlanRow;

/*
 * What the plan emits rows into, the owner of its temporary files, and how
 * long it has held the locks of the migrations it kept.
 */
typedef struct PlanOutput
{
	ResultSink *sink;
	ResourceOwner owner;
	int			budget;			/* ms: lock wait and hold; 0: no limit */
	TimestampTz hold_start;		/* first statement since nothing was held */
	int			kept;			/* migrations kept since hold_start */
	bool		exhausted;		/* budget spent: nothing more is executed */
} PlanOutput;

/*
 * How much later than the end of the budget a statement is canceled: a
 * statement that waits for a lock until the end of the budget then fails
 * on its lock_timeout (55P03), which it would have met alone, rather than
 * on the budget.
 */
#define PLAN_BUDGET_GRACE_MS 50

static void emit_row(PlanOutput *out, PlanRow *row);
static List *statement_relations(List *parsed, const Statement *stmt);
static PlanRel *relation_before(Oid relid);
static int64 tree_size(Oid relid);
static char *too_large_note(const char *fmt, PlanRel *rel);
static PlanRel *large_relation_locked(HeldLock *before, int nbefore,
									  HeldLock *after, int nafter, List *rels);
static void execute_until(const Script *script, const Statement *stmt,
						  TimestampTz deadline, ExecReport *report);
static HeldLock *held_locks(int *count);
static List *new_locks(HeldLock *before, int nbefore, HeldLock *after,
					   int nafter, List *rels);
static List *statement_findings(List *findings, const StatementList *stmts,
								int index);
static char *error_text(ErrorData *edata);
static void plan_migration(PlanOutput *out, const MigrationSet *set,
						   const Migration *m);

/*
 * Put a row in the result.  The tuplestore may spill to a temporary file,
 * which must belong to the call rather than to a subtransaction that is
 * about to be rolled back.
 */
static void
emit_row(PlanOutput *out, PlanRow *row)
{
	Datum		values[14];
	bool		nulls[14] = {0};
	ResourceOwner save = CurrentResourceOwner;

	values[0] = CStringGetTextDatum(row->migration);
	values[1] = CStringGetTextDatum(row->file);
	values[2] = Int32GetDatum(row->line);
	nulls[2] = row->line <= 0;
	nulls[3] = row->command == NULL;
	if (row->command)
		values[3] = CStringGetTextDatum(row->command);
	values[4] = BoolGetDatum(row->executed);
	nulls[5] = !row->locks_known;
	if (row->locks_known)
		values[5] = util_text_array(row->locks);
	nulls[6] = row->rewrite < 0;
	values[6] = BoolGetDatum(row->rewrite > 0);
	nulls[7] = nulls[8] = nulls[9] = row->rel == NULL;
	if (row->rel)
	{
		char	   *name = NULL;

		if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(row->rel->relid)))
			name = DatumGetCString(DirectFunctionCall1(regclassout,
													   ObjectIdGetDatum(row->rel->relid)));
		nulls[7] = name == NULL;
		if (name)
			values[7] = CStringGetTextDatum(name);
		nulls[8] = row->rel->rows < 0;
		values[8] = Int64GetDatum((int64) row->rel->rows);
		values[9] = Int64GetDatum(row->rel->size);
	}
	nulls[10] = row->duration_us < 0;
	if (row->duration_us >= 0)
	{
		Interval   *iv = palloc0(sizeof(Interval));

		iv->time = row->duration_us;
		values[10] = IntervalPGetDatum(iv);
	}
	values[11] = util_text_array(row->findings);
	nulls[12] = row->error == NULL;
	if (row->error)
		values[12] = CStringGetTextDatum(row->error);
	nulls[13] = row->note == NULL;
	if (row->note)
		values[13] = CStringGetTextDatum(row->note);

	CurrentResourceOwner = out->owner;
	tuplestore_putvalues(out->sink->store, out->sink->desc, values, nulls);
	CurrentResourceOwner = save;
}

/*
 * The tables a statement names, before it runs: those lint expects it to
 * lock (lint_rules.c), and the target of INSERT, UPDATE or DELETE.  Tables
 * that do not exist yet are left out.
 */
static List *
statement_relations(List *parsed, const Statement *stmt)
{
	List	   *relids = NIL;
	ListCell   *lc;

	foreach(lc, parsed)
	{
		Node	   *node = lfirst_node(RawStmt, lc)->stmt;
		RangeVar   *target = NULL;
		LintState	st;
		ListCell   *lc2;

		switch (nodeTag(node))
		{
			case T_InsertStmt:
				target = ((InsertStmt *) node)->relation;
				break;
			case T_UpdateStmt:
				target = ((UpdateStmt *) node)->relation;
				break;
			case T_DeleteStmt:
				target = ((DeleteStmt *) node)->relation;
				break;
			default:
				break;
		}
		if (target)
		{
			Oid			relid = RangeVarGetRelid(target, NoLock, true);

			if (OidIsValid(relid))
				relids = list_append_unique_oid(relids, relid);
			continue;
		}

		memset(&st, 0, sizeof(st));
		st.cxt = CurrentMemoryContext;
		st.stmt = stmt;
		lint_statement(&st, node);
		foreach(lc2, st.locks)
			relids = list_append_unique_oid(relids,
											((LintLock *) lfirst(lc2))->relid);
	}
	return relids;
}

/*
 * Functions whose effect outlives the rollback of the plan: a session
 * advisory lock, a sequence set back or forth, work done over another
 * connection, another session ended, the server's files and state.
 * nextval() is left out: it only advances a sequence, and every INSERT
 * into a serial column calls it.
 */
static const char *const lasting_functions[] = {
	"pg_advisory_lock", "pg_advisory_lock_shared",
	"pg_try_advisory_lock", "pg_try_advisory_lock_shared",
	"setval", "pg_terminate_backend", "pg_cancel_backend",
	"pg_reload_conf", "pg_rotate_logfile", "pg_switch_wal",
	"pg_create_restore_point", "pg_promote",
	"pg_create_physical_replication_slot",
	"pg_create_logical_replication_slot", "pg_drop_replication_slot",
	"lo_export", "pg_file_write", "pg_file_rename", "pg_file_unlink",
	"pg_stat_reset", "pg_stat_reset_shared",
};

static bool
lasting_call_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, FuncCall))
	{
		const char *name = strVal(llast(((FuncCall *) node)->funcname));

		if (strncmp(name, "dblink", 6) == 0)
		{
			*(const char **) context = name;
			return true;
		}
		for (int i = 0; i < lengthof(lasting_functions); i++)
			if (strcmp(name, lasting_functions[i]) == 0)
			{
				*(const char **) context = name;
				return true;
			}
	}
	return raw_expression_tree_walker(node, lasting_call_walker, context);
}

/*
 * What the statement does that no rollback undoes, or NULL: what its parse
 * tree shows.  A DO block or a function it calls is not looked into
 * (reference: migrate.plan).  Neither plan nor verify runs such a
 * statement.
 */
const char *
lasting_effect(List *parsed)
{
	ListCell   *lc;

	foreach(lc, parsed)
	{
		Node	   *node = lfirst_node(RawStmt, lc)->stmt;
		const char *function = NULL;

		switch (nodeTag(node))
		{
			case T_CopyStmt:
				{
					CopyStmt   *copy = (CopyStmt *) node;

					if (copy->is_program)
						return "COPY ... PROGRAM runs a program on the server, which a rollback does not undo";
					if (!copy->is_from && copy->filename)
						return "COPY ... TO a file writes a file on the server, which a rollback does not undo";
					node = copy->query;
					break;
				}
			case T_PrepareStmt:
				return "a prepared statement outlives the rollback";
			case T_LoadStmt:
				return "a library loaded by LOAD outlives the rollback";
			case T_CallStmt:
				node = (Node *) ((CallStmt *) node)->funccall;
				break;
			case T_CreateTableAsStmt:
				node = ((CreateTableAsStmt *) node)->query;
				break;
			case T_SelectStmt:
			case T_InsertStmt:
			case T_UpdateStmt:
			case T_DeleteStmt:
				break;
			default:
				node = NULL;
				break;
		}
		if (node && lasting_call_walker(node, &function))
			return psprintf("it calls %s(), whose effect a rollback does not undo",
							function);
	}
	return NULL;
}

/* A table's file, rows and size before the statement runs */
static PlanRel *
relation_before(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(relid)};
	PlanRel    *rel = NULL;
	bool		isnull;

	spi_run("SELECT c.relfilenode, c.reltuples::pg_catalog.float8"
			" FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) $1",
			1, argtypes, args, NULL, SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		rel = palloc(sizeof(PlanRel));
		rel->relid = relid;
		rel->name = DatumGetCString(DirectFunctionCall1(regclassout,
														ObjectIdGetDatum(relid)));
		rel->relfilenode = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		rel->rows = DatumGetFloat8(SPI_getbinval(tup, desc, 2, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	if (rel)
		rel->size = tree_size(relid);
	return rel;
}

/*
 * The size of a relation and of every relation that inherits from it
 * (partitions, inheritance children, their indexes), indexes and TOAST
 * included: a partitioned table has no storage of its own, but what is
 * done to it is done to each partition.
 */
static int64
tree_size(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(relid)};
	int64		size = 0;
	bool		isnull;
	Datum		value;

	spi_run("WITH RECURSIVE tree(relid) AS (SELECT $1"
			" UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits i, tree t"
			" WHERE i.inhparent OPERATOR(pg_catalog.=) t.relid)"
			" SELECT pg_catalog.sum(pg_catalog.pg_total_relation_size(t.relid))::pg_catalog.int8"
			" FROM tree t",
			1, argtypes, args, NULL, SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
							  1, &isnull);
		if (!isnull)
			size = DatumGetInt64(value);
	}
	SPI_freetuptable(SPI_tuptable);
	return size;
}

static bool
too_large(const PlanRel *rel)
{
	return migrate_plan_max_table_size >= 0 &&
		rel->size > (int64) migrate_plan_max_table_size * 1024;
}

/* A note naming a table larger than migrate.plan_max_table_size, and its size */
static char *
too_large_note(const char *fmt, PlanRel *rel)
{
	char	   *size = text_to_cstring(DatumGetTextPP(DirectFunctionCall1(pg_size_pretty,
																		  Int64GetDatum(rel->size))));

	return psprintf(fmt, rel->name, size);
}

/*
 * A relation larger than migrate.plan_max_table_size that the statement
 * locked although it did not name it (a DO block, a function), or NULL.
 * The plan cannot tell what such a statement touches before it runs.
 */
static PlanRel *
large_relation_locked(HeldLock *before, int nbefore, HeldLock *after,
					  int nafter, List *rels)
{
	for (int i = 0; i < nafter; i++)
	{
		Oid			relid = after[i].relid;
		bool		known = false;
		PlanRel    *rel;
		ListCell   *lc;

		for (int j = 0; j < nbefore && !known; j++)
			known = before[j].relid == relid;
		foreach(lc, rels)
			known |= ((PlanRel *) lfirst(lc))->relid == relid;
		if (known || IsCatalogRelationOid(relid) ||
			get_rel_namespace(relid) == PG_TOAST_NAMESPACE)
			continue;
		rel = relation_before(relid);
		if (rel && too_large(rel))
			return rel;
	}
	return NULL;
}

typedef struct OneStatement
{
	const Script *script;
	StatementList one;
	ExecReport *report;
} OneStatement;

static void
execute_one(void *arg)
{
	OneStatement *call = arg;

	execute_script(call->script, &call->one, execute_spi_statement, NULL,
				   call->report);
}

/*
 * Run one statement, canceled at deadline (when not 0) unless the
 * session's statement_timeout comes first.
 */
static void
execute_until(const Script *script, const Statement *stmt,
			  TimestampTz deadline, ExecReport *report)
{
	OneStatement call;

	call.script = script;
	call.report = report;
	call.one.count = call.one.allocated = 1;
	call.one.items = (Statement *) stmt;
	run_until_deadline(deadline, execute_one, &call);
}

/* The relation locks this backend holds in this database, from the lock manager */
static HeldLock *
held_locks(int *count)
{
	LockData   *data = GetLockStatusData();
	HeldLock   *held = palloc(sizeof(HeldLock) * Max(data->nelements, 1));
	int			n = 0;

	for (int i = 0; i < data->nelements; i++)
	{
		LockInstanceData *inst = &data->locks[i];
		Oid			relid;
		int			j;

		if (inst->pid != MyProcPid || inst->holdMask == 0 ||
			inst->locktag.locktag_type != LOCKTAG_RELATION ||
			inst->locktag.locktag_field1 != MyDatabaseId)
			continue;
		relid = inst->locktag.locktag_field2;
		for (j = 0; j < n && held[j].relid != relid; j++)
			;
		if (j == n)
		{
			held[n].relid = relid;
			held[n++].mask = 0;
		}
		held[j].mask |= inst->holdMask;
	}
	*count = n;
	return held;
}

/*
 * The strongest lock mode the statement took on each relation, beyond
 * what was held before it, as "relation Mode", sorted.  The catalogs and
 * the TOAST tables are left out, and so are the relations gone by the end
 * of the statement (a rewrite's transient copy) unless the statement
 * named them (rels: a table it dropped).
 */
static List *
new_locks(HeldLock *before, int nbefore, HeldLock *after, int nafter,
		  List *rels)
{
	List	   *result = NIL;

	for (int i = 0; i < nafter; i++)
	{
		LOCKMASK	mask = after[i].mask;
		Oid			relid = after[i].relid;
		Oid			nsp;
		const char *name = NULL;
		ListCell   *lc;
		int			mode;

		for (int j = 0; j < nbefore; j++)
			if (before[j].relid == relid)
				mask &= ~before[j].mask;
		if (mask == 0 || IsCatalogRelationOid(relid))
			continue;
		nsp = get_rel_namespace(relid);
		if (nsp == PG_TOAST_NAMESPACE)
			continue;
		if (OidIsValid(nsp))
			name = DatumGetCString(DirectFunctionCall1(regclassout,
													   ObjectIdGetDatum(relid)));
		else
		{
			foreach(lc, rels)
				if (((PlanRel *) lfirst(lc))->relid == relid)
					name = ((PlanRel *) lfirst(lc))->name;
			if (name == NULL)
				continue;
		}
		for (mode = MaxLockMode; mode > NoLock; mode--)
			if (mask & LOCKBIT_ON(mode))
				break;
		result = lappend(result, psprintf("%s %s", name,
										  GetLockmodeName(DEFAULT_LOCKMETHOD, mode)));
	}
	list_sort(result, compare_string_cells);
	return result;
}

/*
 * The findings placed on statement index: those on its line, when it is
 * the first statement of that line.
 */
static List *
statement_findings(List *findings, const StatementList *stmts, int index)
{
	int			line = stmts->items[index].line;
	List	   *result = NIL;
	ListCell   *lc;

	if (index > 0 && stmts->items[index - 1].line == line)
		return NIL;
	foreach(lc, findings)
	{
		LintFinding *f = lfirst(lc);

		if (f->line == line)
			result = lappend(result, psprintf("%s: %s", f->rule, f->message));
	}
	return result;
}

static char *
error_text(ErrorData *edata)
{
	return psprintf("%s: %s", unpack_sql_state(edata->sqlerrcode),
					edata->message);
}

/* One pending migration as it is planned, and what is left when it stops */
typedef struct PlanMigration
{
	PlanOutput *out;
	const Migration *m;
	LoadedMigration lm;
	MemoryContext cxt;			/* the caller's */
	MemoryContext stmt_cxt;		/* reset after each statement */
	StatementList *stmts;		/* NULL until the script is split */
	List	   *findings;		/* LintFinding */
	bool		no_transaction;
	CommitSplit split;			/* a drizzle migration's COMMIT */
	int			commit_at;		/* index in stmts of the first statement
								 * after it, or stmts->count */
	int			current;		/* statement being planned, or -1 */
	PlanRow    *failing;		/* its row, until emitted */
	bool		running;		/* it is being executed */
	TimestampTz start;			/* when it started */
	TimestampTz deadline;		/* when it is canceled, or 0 */
	bool		stopped;		/* the migration stopped before its end */
	const char *stop_note;		/* the note on the statements after it */
	ExecReport	report;
} PlanMigration;

/*
 * A row of the migration's: of statement index, or of the migration
 * itself when index is -1.
 */
static PlanRow *
plan_row(const PlanMigration *pm, int index)
{
	PlanRow    *row = palloc0(sizeof(PlanRow));

	row->migration = pm->m->name;
	row->file = pm->lm.up.file;
	row->rewrite = -1;
	row->duration_us = -1;
	if (index >= 0)
	{
		const Statement *stmt = &pm->stmts->items[index];

		row->line = stmt->line;
		row->command = GetCommandTagName((CommandTag) stmt->tag);
		row->findings = statement_findings(pm->findings, pm->stmts, index);
	}
	return row;
}

/*
 * Why the statement of row is not executed, as its note, or NULL: it does
 * what no rollback undoes, names a table too large, or the budget is
 * spent.  Otherwise its lock wait is bounded by what is left of the
 * budget, and pm->deadline is when it is canceled.  rels gets the tables
 * it names, as they are before it runs.
 */
static const char *
not_executed_note(PlanMigration *pm, PlanRow *row, const Statement *stmt,
				  List **rels)
{
	PlanOutput *out = pm->out;
	List	   *parsed = compat_raw_parser(script_statement_text(&pm->lm.up, stmt));
	const char *note = lasting_effect(parsed);
	List	   *relids = note ? NIL : statement_relations(parsed, stmt);
	ListCell   *lc;
	TimestampTz now;
	int64		left;

	if (note)
		note = psprintf("not executed: %s", note);
	*rels = NIL;
	foreach(lc, relids)
	{
		PlanRel    *rel = relation_before(lfirst_oid(lc));

		if (rel == NULL)
			continue;
		*rels = lappend(*rels, rel);
		if (row->rel == NULL)
			row->rel = rel;
		if (too_large(rel))
		{
			row->rel = rel;
			return too_large_note("not executed: table \"%s\" is %s, larger than migrate.plan_max_table_size",
								  rel);
		}
	}
	if (note || out->budget <= 0)
		return note;

	now = GetCurrentTimestamp();
	if (out->hold_start == 0)
		out->hold_start = now;
	left = out->budget - (now - out->hold_start) / 1000;
	if (left <= 0)
	{
		out->exhausted = true;
		return "not executed: the plan had held its locks for migrate.plan_lock_timeout";
	}

	/*
	 * A plain SET within the nest level plan_statements() opened, as a
	 * statement's own SET lock_timeout was: saving would clash with that
	 * one's entry
	 */
	(void) set_config_option("lock_timeout", psprintf("%d", (int) left),
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SET, true, 0, false);
	pm->deadline = TimestampTzPlusMilliseconds(out->hold_start,
											   out->budget + PLAN_BUDGET_GRACE_MS);
	return NULL;
}

/*
 * Plan statement index of the migration, in pm->stmt_cxt: emit its row,
 * executed or not.  Returns false when the migration stops there, its
 * later statements not executed as they may depend on it.
 */
static bool
plan_statement(PlanMigration *pm, int index)
{
	PlanOutput *out = pm->out;
	const Statement *stmt = &pm->stmts->items[index];
	PlanRow    *row;
	List	   *rels;
	HeldLock   *before,
			   *after;
	int			nbefore,
				nafter;
	PlanRel    *large;

	CHECK_FOR_INTERRUPTS();
	pm->current = index;
	row = plan_row(pm, index);
	pm->failing = row;
	if (index >= pm->commit_at)
	{
		row->note = psprintf("not executed: after the COMMIT at line %d the migration runs outside a transaction block, so it cannot be rolled back",
							 pm->split.line);
		emit_row(out, row);
		pm->failing = NULL;
		return true;
	}
	if (pm->no_transaction || out->exhausted)
	{
		row->note = pm->no_transaction ?
			"not executed: the migration runs outside a transaction block, so it cannot be rolled back" :
			"not executed: the plan had held its locks for migrate.plan_lock_timeout";
		emit_row(out, row);
		pm->failing = NULL;
		return true;
	}

	row->note = not_executed_note(pm, row, stmt, &rels);
	if (row->note)
	{
		emit_row(out, row);
		pm->failing = NULL;
		pm->stop_note = out->exhausted ?
			"not executed: the plan had held its locks for migrate.plan_lock_timeout" :
			"not executed: an earlier statement of the migration was not executed";
		return false;
	}

	before = held_locks(&nbefore);
	pm->running = true;
	pm->start = GetCurrentTimestamp();
	execute_until(&pm->lm.up, stmt, pm->deadline, &pm->report);
	row->duration_us = GetCurrentTimestamp() - pm->start;
	pm->running = false;
	row->executed = true;
	after = held_locks(&nafter);
	row->locks = new_locks(before, nbefore, after, nafter, rels);
	row->locks_known = true;
	if (row->rel)
	{
		HeapTuple	tup = SearchSysCache1(RELOID,
										  ObjectIdGetDatum(row->rel->relid));

		if (HeapTupleIsValid(tup))
		{
			row->rewrite = ((Form_pg_class) GETSTRUCT(tup))->relfilenode !=
				row->rel->relfilenode;
			ReleaseSysCache(tup);
		}
	}
	large = large_relation_locked(before, nbefore, after, nafter, rels);
	if (large)
	{
		/* too late not to run it; not too late to stop there */
		if (row->rel == NULL)
			row->rel = large;
		row->note = too_large_note("executed, but it locked table \"%s\", which is %s, larger than migrate.plan_max_table_size",
								   large);
		pm->stop_note = "not executed: an earlier statement of the migration was not executed";
	}
	emit_row(out, row);
	pm->failing = NULL;
	return large == NULL;
}

/*
 * A pending migration's up script split as run() would split it (see
 * script_split_to_run()), and whether run() would run it outside a
 * transaction block: marked so, or made only of statements that run only
 * there.  Such a migration cannot be rehearsed in a rolled-back
 * subtransaction.  A drizzle migration split at its COMMIT (split) runs
 * the statements returned in a transaction, and split->after outside one.
 */
StatementList *
pending_statements(const LoadedMigration *lm, bool *no_transaction,
				   CommitSplit *split)
{
	bool		unwrapped;
	StatementList *stmts = script_split_to_run(&lm->up, false,
											   !lm->no_transaction,
											   &unwrapped);
	bool		is_split = drizzle_split_at_commit(lm, stmts, split);

	*no_transaction = lm->no_transaction ||
		(!unwrapped && !is_split && script_all_top_level(stmts));
	return stmts;
}

/*
 * The statements of a split migration in one list, those after its COMMIT
 * last, for the plan's rows; pm->commit_at tells them apart.
 */
static void
join_commit_split(PlanMigration *pm)
{
	StatementList *all;

	pm->commit_at = pm->stmts->count;
	if (pm->split.after == NULL)
		return;
	all = palloc(sizeof(StatementList));
	all->count = all->allocated = pm->stmts->count + pm->split.after->count;
	all->items = palloc(sizeof(Statement) * all->count);
	memcpy(all->items, pm->stmts->items, sizeof(Statement) * pm->stmts->count);
	memcpy(&all->items[pm->commit_at], pm->split.after->items,
		   sizeof(Statement) * pm->split.after->count);
	pm->stmts = all;
}

/*
 * The migration's script checked as run() would check it, then planned
 * statement by statement, in the subtransaction try_in_subtransaction_or_undo()
 * runs it in: kept (true) when every statement ran.
 */
static bool
plan_statements(void *arg)
{
	PlanMigration *pm = arg;
	int			nest;

	pm->stmts = pending_statements(&pm->lm, &pm->no_transaction, &pm->split);
	script_check(&pm->lm.up, pm->stmts,
				 pm->no_transaction ? CHECK_NOTHING : CHECK_UP_SCRIPT);
	pm->findings = lint_reported(&pm->lm.up, pm->stmts, pm->no_transaction);
	if (pm->split.after)
	{
		script_check(&pm->lm.up, pm->split.after, CHECK_NOTHING);
		pm->findings = list_concat(pm->findings,
								   lint_reported(&pm->lm.up, pm->split.after, true));
	}
	join_commit_split(pm);

	/*
	 * Lint judged the settings a real run has; the statements run under the
	 * plan's lock timeout, set again before each, so that a statement's SET
	 * lock_timeout or RESET ALL does not lengthen the next one's wait.
	 * Whatever the script sets is undone after it, as a real run does.
	 */
	nest = NewGUCNestLevel();
	for (int i = 0; i < pm->stmts->count && !pm->stopped; i++)
	{
		MemoryContextSwitchTo(pm->stmt_cxt);
		pm->stopped = !plan_statement(pm, i);
		MemoryContextSwitchTo(pm->cxt);
		if (!pm->stopped)
			MemoryContextReset(pm->stmt_cxt);
	}
	AtEOXact_GUC(false, nest);
	return !pm->stopped;
}

/*
 * The error that stopped the migration, rolled back: on the row of the
 * statement that failed, or on a row of the migration's own when it could
 * not be run (check_line: the line script_check() named).  A cancel that
 * is neither the statement's timeout nor the end of the budget stops the
 * whole plan.
 */
static void
plan_failed(PlanMigration *pm, ErrorData *edata, int check_line)
{
	PlanRow    *row = pm->failing;
	bool		budget_spent;

	/*
	 * A cancel stops the plan; a statement timeout is the statement's, and
	 * so is the end of the budget, after which nothing is run.
	 */
	budget_spent = pm->running && pm->deadline != 0 &&
		edata->sqlerrcode == ERRCODE_QUERY_CANCELED &&
		GetCurrentTimestamp() >= pm->deadline;
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED && !budget_spent &&
		!(pm->running && migrate_statement_timeout > 0))
		ReThrowError(edata);

	pm->stopped = true;
	if (row == NULL)
	{
		/* the migration cannot be run, or planning it failed */
		row = plan_row(pm, -1);
		row->line = check_line;
		row->error = error_text(edata);
		row->note = "not executed: the migration cannot be run";
		emit_row(pm->out, row);
		pm->current = pm->stmts ? pm->stmts->count : 0;
		return;
	}

	/* the statement that failed */
	row->error = error_text(edata);
	if (pm->running)
	{
		row->executed = true;
		row->duration_us = GetCurrentTimestamp() - pm->start;
		if (pm->report.error_line > 0)
			row->line = pm->report.error_line;
	}
	pm->stop_note = "not executed: an earlier statement of the migration failed";
	if (budget_spent)
	{
		pm->out->exhausted = true;
		row->note = "canceled: the plan had held its locks for migrate.plan_lock_timeout";
		pm->stop_note = "not executed: the plan had held its locks for migrate.plan_lock_timeout";
	}
	emit_row(pm->out, row);
}

/*
 * Plan one pending migration in a subtransaction of its own: kept when
 * every statement ran, rolled back at the first that failed or was not
 * executed.
 *
 * Each statement waits for a lock for at most what is left of the budget
 * (migrate.plan_lock_timeout), and is canceled when the plan has held the
 * locks of the migrations it kept for longer than that: the application
 * then never queues behind the plan for much longer than the plan would
 * queue behind it.  The budget starts with the first statement run while
 * nothing was kept, and runs out for good: as later migrations may build
 * on the kept ones, none is run without them.
 */
static void
plan_migration(PlanOutput *out, const MigrationSet *set, const Migration *m)
{
	PlanMigration pm;
	ErrorData  *edata;

	memset(&pm, 0, sizeof(pm));
	pm.out = out;
	pm.m = m;
	pm.cxt = CurrentMemoryContext;
	pm.current = -1;
	migration_load(set, m, &pm.lm, false);
	pm.stmt_cxt = AllocSetContextCreate(pm.cxt, "pg_migrate plan statement",
										ALLOCSET_DEFAULT_SIZES);

	/*
	 * Its DDL is the migration's, never blocked; and not logged, as it is
	 * always rolled back: the log's table, index and sequence locks would
	 * be the plan's, and the sequence's outlives the rollback
	 */
	ddl_log_mark(m->name, set->folder->source, false);
	edata = try_in_subtransaction_or_undo(plan_statements, &pm);
	ddl_log_unmark();
	if (edata)
		plan_failed(&pm, edata, script_check_line());

	/* a migration rolled back releases its locks; kept, the plan holds them */
	if (!pm.stopped && !pm.no_transaction)
		out->kept++;
	else if (out->kept == 0)
		out->hold_start = 0;

	/* what was left of the migration after it stopped */
	if (pm.stopped && pm.stmts)
	{
		for (int i = pm.current + 1; i < pm.stmts->count; i++)
		{
			PlanRow    *row = plan_row(&pm, i);

			row->note = pm.stop_note;
			emit_row(out, row);
		}
	}
	MemoryContextDelete(pm.stmt_cxt);
}

/* What plan_pending() plans, and where */
typedef struct PlanFolder
{
	const Folder *folder;
	const char *format;
	PlanOutput *out;
	MemoryContext cxt;
} PlanFolder;

/*
 * Plan every pending migration of the folder, in the subtransaction
 * try_in_subtransaction_or_undo() runs it in, always rolled back.
 */
static bool
plan_pending(void *arg)
{
	PlanFolder *pf = arg;
	MemoryContext per_migration;
	AppliedSet	as;
	MigrationSet *set;
	bool	   *is_applied;
	bool		released = false;

	per_migration = AllocSetContextCreate(pf->cxt, "pg_migrate migration",
										  ALLOCSET_DEFAULT_SIZES);
	take_run_lock(false);
	applied_set_load(&as, pf->folder, pf->format, DEBUG1, NULL, NULL);
	set = as.set;
	is_applied = as.is_applied;

	for (int i = 0; i < set->count; i++)
	{
		Migration  *m = &set->items[i];

		if (is_applied[i] || m->adopted)
			continue;
		MemoryContextSwitchTo(per_migration);
		plan_migration(pf->out, set, m);
		MemoryContextSwitchTo(pf->cxt);
		MemoryContextReset(per_migration);
		if (pf->out->exhausted && !released)
		{
			/* nothing more is run: release every lock right away */
			RollbackAndReleaseCurrentSubTransaction();
			BeginInternalSubTransaction(NULL);
			MemoryContextSwitchTo(pf->cxt);
			released = true;
		}
	}
	MemoryContextDelete(per_migration);
	return false;
}

/*
 * migrate.plan(): plan every pending migration of a folder, in order, in
 * a subtransaction always rolled back.  The run lock is taken inside it,
 * so that the plan does not interleave with a real run and holds the lock
 * only while it runs.
 */
void
plan_folder(const Folder *folder, const char *format, ResultSink *sink)
{
	PlanOutput	out;
	PlanFolder	pf;
	ErrorData  *edata;

	memset(&out, 0, sizeof(out));
	out.sink = sink;
	out.owner = CurrentResourceOwner;
	/* 0: the lock_timeout migrations run with, as apply and run decide it */
	out.budget = migrate_plan_lock_timeout > 0 ? migrate_plan_lock_timeout :
		migrate_lock_timeout_in_force(NULL);
	if (out.budget == 0)
		out.budget = LockTimeout;
	pf.folder = folder;
	pf.format = format;
	pf.out = &out;
	pf.cxt = CurrentMemoryContext;

	edata = try_in_subtransaction_or_undo(plan_pending, &pf);
	if (edata)
		ReThrowError(edata);
}
