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
 * The plan must not stall the application: statements run under
 * migrate.plan_lock_timeout, and a statement on a table larger than
 * migrate.plan_max_table_size is analysed but not executed, as is the
 * rest of its migration.  Migrations marked (or found) to run outside a
 * transaction block cannot be rolled back, so they are analysed only.
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
#include "parser/parser.h"
#include "storage/lock.h"
#include "tcop/cmdtag.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "lint.h"

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

/* What the plan emits rows into, and the owner of its temporary files */
typedef struct PlanOutput
{
	ResultSink *sink;
	ResourceOwner owner;
} PlanOutput;

static void emit_row(PlanOutput *out, PlanRow *row);
static List *statement_relations(const Script *script, const Statement *stmt);
static PlanRel *relation_before(Oid relid);
static HeldLock *held_locks(int *count);
static List *new_locks(HeldLock *before, int nbefore, HeldLock *after,
					   int nafter, List *rels);
static List *statement_findings(List *findings, const StatementList *stmts,
								int index);
static char *error_text(ErrorData *edata);
static void plan_migration(PlanOutput *out, const MigrationSet *set,
						   const Migration *m);

static Datum
text_array(List *items)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(items), 1));
	int			n = 0;
	ListCell   *lc;

	foreach(lc, items)
		elems[n++] = CStringGetTextDatum(lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

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
		values[5] = text_array(row->locks);
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
	values[11] = text_array(row->findings);
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
statement_relations(const Script *script, const Statement *stmt)
{
	List	   *relids = NIL;
	ListCell   *lc;

	foreach(lc, compat_raw_parser(script_statement_text(script, stmt)))
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

/* A table's file, rows and size before the statement runs */
static PlanRel *
relation_before(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(relid)};
	PlanRel    *rel = NULL;
	bool		isnull;

	spi_run("SELECT c.relfilenode, c.reltuples::pg_catalog.float8,"
			" pg_catalog.pg_total_relation_size(c.oid)"
			" FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) $1",
			1, argtypes, args, NULL, SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		size;

		rel = palloc(sizeof(PlanRel));
		rel->relid = relid;
		rel->name = DatumGetCString(DirectFunctionCall1(regclassout,
														ObjectIdGetDatum(relid)));
		rel->relfilenode = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		rel->rows = DatumGetFloat8(SPI_getbinval(tup, desc, 2, &isnull));
		size = SPI_getbinval(tup, desc, 3, &isnull);
		rel->size = isnull ? 0 : DatumGetInt64(size);
	}
	SPI_freetuptable(SPI_tuptable);
	return rel;
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

/*
 * Plan one pending migration in a subtransaction of its own: kept when
 * every statement ran, rolled back at the first that failed or was not
 * executed.
 */
static void
plan_migration(PlanOutput *out, const MigrationSet *set, const Migration *m)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	MemoryContext stmt_cxt;
	LoadedMigration lm;
	StatementList *volatile stmts = NULL;
	List	   *volatile findings = NIL;
	volatile int current = -1;
	volatile bool stopped = false;
	volatile bool no_transaction = false;
	PlanRow    *volatile failing = NULL;
	volatile TimestampTz start = 0;
	const char *volatile stop_note = NULL;
	volatile bool running = false;
	volatile bool caught = false;
	StatementList one;

	migration_load(set, m, &lm, false);
	stmt_cxt = AllocSetContextCreate(cxt, "pg_migrate plan statement",
									 ALLOCSET_DEFAULT_SIZES);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		bool		unwrapped;
		int			nest;
		int			timeout = migrate_plan_lock_timeout > 0 ?
			migrate_plan_lock_timeout : migrate_lock_timeout;

		/* as run() would run it: checks.c */
		stmts = split_script(&lm.up, false, !lm.no_transaction, &unwrapped);
		no_transaction = lm.no_transaction ||
			(!unwrapped && script_all_top_level(stmts));
		script_check(&lm.up, stmts,
					 no_transaction ? CHECK_NOTHING : CHECK_UP_SCRIPT);
		findings = lint_reported(&lm.up, stmts, no_transaction);

		/*
		 * Lint judged the settings a real run has; the statements run under
		 * the plan's lock timeout.  Whatever the script sets is undone after
		 * it, as a real run does.
		 */
		nest = NewGUCNestLevel();
		if (timeout > 0)
			(void) set_config_option("lock_timeout", psprintf("%d", timeout),
									 PGC_USERSET, PGC_S_SESSION,
									 GUC_ACTION_SAVE, true, 0, false);

		for (int i = 0; i < stmts->count; i++)
		{
			const Statement *stmt = &stmts->items[i];
			PlanRow    *row;
			List	   *relids;
			List	   *rels;
			ListCell   *lc;
			HeldLock   *before,
					   *after;
			int			nbefore,
						nafter;

			CHECK_FOR_INTERRUPTS();
			current = i;
			MemoryContextSwitchTo(stmt_cxt);
			row = palloc0(sizeof(PlanRow));
			row->migration = m->name;
			row->file = lm.up.file;
			row->line = stmt->line;
			row->command = GetCommandTagName((CommandTag) stmt->tag);
			row->rewrite = -1;
			row->duration_us = -1;
			row->findings = statement_findings(findings, stmts, i);
			failing = row;
			if (no_transaction)
			{
				row->note = "not executed: the migration runs outside a transaction block, so it cannot be rolled back";
				emit_row(out, row);
				failing = NULL;
				MemoryContextSwitchTo(cxt);
				MemoryContextReset(stmt_cxt);
				continue;
			}

			relids = statement_relations(&lm.up, stmt);
			rels = NIL;
			foreach(lc, relids)
			{
				PlanRel    *rel = relation_before(lfirst_oid(lc));

				if (rel == NULL)
					continue;
				rels = lappend(rels, rel);
				if (row->rel == NULL)
					row->rel = rel;
				if (migrate_plan_max_table_size >= 0 &&
					rel->size > (int64) migrate_plan_max_table_size * 1024)
				{
					row->rel = rel;
					row->note = psprintf("not executed: table \"%s\" is %s, larger than migrate.plan_max_table_size",
										 get_rel_name(rel->relid),
										 text_to_cstring(DatumGetTextPP(DirectFunctionCall1(pg_size_pretty,
																							Int64GetDatum(rel->size)))));
					break;
				}
			}
			if (row->note)
			{
				/* the statements after it may depend on it */
				emit_row(out, row);
				failing = NULL;
				stopped = true;
				stop_note = "not executed: an earlier statement of the migration was not executed";
				break;
			}

			before = held_locks(&nbefore);
			one.count = one.allocated = 1;
			one.items = (Statement *) stmt;
			running = true;
			start = GetCurrentTimestamp();
			execute_script(&lm.up, &one, execute_spi_statement);
			row->duration_us = GetCurrentTimestamp() - start;
			running = false;
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
			emit_row(out, row);
			failing = NULL;
			MemoryContextSwitchTo(cxt);
			MemoryContextReset(stmt_cxt);
		}
		AtEOXact_GUC(false, nest);
		MemoryContextSwitchTo(cxt);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			error_line = script_error_line;
		int			check_line = script_check_line();

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		caught = true;

		/* a cancel stops the plan; a statement timeout is the statement's */
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED &&
			!(running && migrate_statement_timeout > 0))
			ReThrowError(edata);

		if (failing)
		{
			/* the statement that failed */
			failing->error = error_text(edata);
			if (running)
			{
				failing->executed = true;
				failing->duration_us = GetCurrentTimestamp() - start;
				if (error_line > 0)
					failing->line = error_line;
			}
			emit_row(out, failing);
			stop_note = "not executed: an earlier statement of the migration failed";
		}
		else
		{
			/* the migration cannot be run, or planning it failed */
			PlanRow		row;

			memset(&row, 0, sizeof(row));
			row.migration = m->name;
			row.file = lm.up.file;
			row.line = check_line;
			row.rewrite = -1;
			row.duration_us = -1;
			row.error = error_text(edata);
			row.note = "not executed: the migration cannot be run";
			emit_row(out, &row);
			current = stmts ? stmts->count : 0;
		}
		stopped = true;
	}
	PG_END_TRY();
	if (!caught)
	{
		if (stopped)
			RollbackAndReleaseCurrentSubTransaction();
		else
			ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}

	/* what was left of the migration after it stopped */
	if (stopped && stmts)
	{
		for (int i = current + 1; i < stmts->count; i++)
		{
			PlanRow		row;

			memset(&row, 0, sizeof(row));
			row.migration = m->name;
			row.file = lm.up.file;
			row.line = stmts->items[i].line;
			row.command = GetCommandTagName((CommandTag) stmts->items[i].tag);
			row.rewrite = -1;
			row.duration_us = -1;
			row.findings = statement_findings(findings, stmts, i);
			row.note = stop_note;
			emit_row(out, &row);
		}
	}
	MemoryContextDelete(stmt_cxt);
}

/*
 * migrate.plan(): plan every pending migration of a folder, in order, in
 * a subtransaction always rolled back.  The run lock is taken inside it,
 * so that the plan does not interleave with a real run and holds the lock
 * only while it runs.
 */
void
run_plan(const Folder *folder, const char *format, ResultSink *sink)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	PlanOutput	out;
	MemoryContext per_migration;

	out.sink = sink;
	out.owner = owner;
	per_migration = AllocSetContextCreate(cxt, "pg_migrate migration",
										  ALLOCSET_DEFAULT_SIZES);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		MigrationSet *set;
		bool	   *is_applied;

		take_run_lock(false);
		set = source_load(folder, format, DEBUG1);
		is_applied = applied_flags(set, tracking_applied());

		for (int i = 0; i < set->count; i++)
		{
			Migration  *m = &set->items[i];

			if (is_applied[i] || m->adopted)
				continue;
			MemoryContextSwitchTo(per_migration);
			plan_migration(&out, set, m);
			MemoryContextSwitchTo(cxt);
			MemoryContextReset(per_migration);
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ReThrowError(edata);
	}
	PG_END_TRY();

	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	MemoryContextDelete(per_migration);
}
