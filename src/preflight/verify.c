/*-------------------------------------------------------------------------
 *
 * verify.c
 *	  migrate.verify(): the round trip of each pending migration of a
 *	  folder, its up script then its down script (written, or generated as
 *	  the up script ran), compared with the schema as migrate.schema_objects()
 *	  described it before, in a subtransaction that is always rolled back.
 *
 * One row per pending migration says whether the down script brings the
 * schema back exactly, what differs (objects left behind, missing or
 * changed), why it cannot be undone (a generated down script that is
 * partial, or no down script at all), or the error of either script.
 *
 * Each up script runs in a subtransaction kept, so that the next migration
 * finds the schema it was written for; its down script runs in a nested
 * subtransaction rolled back once the schema has been compared, which
 * leaves the schema as the up script made it without running the up
 * script twice.  When an up script fails, the migrations after it are not
 * run: a real run would stop there too.  Everything, the run lock
 * included, is rolled back at the end: nothing is recorded and no lock
 * outlives the call.  Sequences the scripts advanced stay advanced, as
 * after any rollback.
 *
 * Unlike migrate.plan(), which bounds how long it holds locks, verify runs
 * every statement and holds what it locked until it returns: it is meant
 * for a test or CI database, not for a busy one.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "util/compat.h"
#include "preflight/preflight.h"

/* How many objects or statements a detail names before "and N more" */
#define VERIFY_DETAIL_MAX 5

/* What migrate.verify() emits rows into, and the owner of its files */
typedef struct VerifyOutput
{
	ResultSink *sink;
	ResourceOwner owner;
} VerifyOutput;

/* One pending migration as it is verified */
typedef struct VerifyMigration
{
	const MigrationSet *set;
	const Migration *m;
	LoadedMigration lm;
	StatementList *stmts;		/* the up script's, once split */
	DownGenerator *gen;			/* generating its down script, or NULL */
	Script		down;			/* the down script tested */
	const SchemaObjects *before;	/* the schema before the up script */
	const char *skipped;		/* why it was not run, or NULL */
	List	   *differences;	/* DriftedObject, after the down script */
	ExecReport	report;
} VerifyMigration;

/* One row of migrate.verify() */
static void
emit_row(VerifyOutput *out, const char *name, const char *result,
		 const char *down, const char *detail, const char *objects)
{
	Datum		values[5];
	bool		nulls[5] = {0};
	ResourceOwner save = CurrentResourceOwner;

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(result);
	nulls[2] = down == NULL;
	if (down)
		values[2] = CStringGetTextDatum(down);
	nulls[3] = detail == NULL;
	if (detail)
		values[3] = CStringGetTextDatum(detail);
	nulls[4] = objects == NULL;
	if (objects)
		values[4] = DirectFunctionCall1(jsonb_in, CStringGetDatum(objects));

	/* the tuplestore's file belongs to the call, not to a subtransaction */
	CurrentResourceOwner = out->owner;
	tuplestore_putvalues(out->sink->store, out->sink->desc, values, nulls);
	CurrentResourceOwner = save;
}

/*
 * Why a script cannot be rehearsed in a subtransaction rolled back, as
 * "file, line N: why", or NULL: one of its statements does what no
 * rollback undoes (see lasting_effect()).
 */
static char *
lasting_statement(const Script *script, const StatementList *stmts)
{
	for (int i = 0; i < stmts->count; i++)
	{
		const Statement *stmt = &stmts->items[i];
		const char *why;

		why = lasting_effect(compat_raw_parser(script_statement_text(script, stmt)));
		if (why)
			return psprintf("%s, line %d: %s", script->file, stmt->line, why);
	}
	return NULL;
}

/*
 * The up script checked and run as a real run would run it, generating
 * its down script when it has none, in the subtransaction
 * try_in_subtransaction_or_undo() runs it in: kept (true) when it ran,
 * rolled back when it cannot be rehearsed (vm->skipped says why).
 */
static bool
verify_up(void *arg)
{
	VerifyMigration *vm = arg;
	bool		no_transaction;
	CommitSplit split;

	vm->stmts = pending_statements(&vm->lm, &no_transaction, &split);
	if (no_transaction)
	{
		vm->skipped = "the migration runs outside a transaction block, so it cannot be rolled back";
		return false;
	}
	if (split.after)
	{
		vm->skipped = psprintf("after the COMMIT at line %d the migration runs outside a transaction block, so it cannot be rolled back",
							   split.line);
		return false;
	}
	vm->skipped = lasting_statement(&vm->lm.up, vm->stmts);
	if (vm->skipped)
		return false;
	script_check(&vm->lm.up, vm->stmts, CHECK_UP_SCRIPT);
	if (vm->lm.down.sql == NULL && migrate_generate_down)
		vm->gen = inverse_start(&vm->lm.up, false);
	execute_in_transaction(&vm->lm.up, vm->stmts, false, vm->gen, &vm->report);
	return true;
}

/*
 * The down script checked and run as migrate.rollback() would run it, as
 * the current user and unable to change role, then the schema compared
 * with the one before the up script; in a subtransaction always rolled
 * back, which brings back the schema the up script made.
 */
static bool
verify_down(void *arg)
{
	VerifyMigration *vm = arg;
	StatementList *stmts;
	Oid			user;
	int			context;

	if (script_has_directive(vm->down.sql, "migrate:no-transaction"))
	{
		vm->skipped = "the down script runs outside a transaction block, so it cannot be rolled back";
		return false;
	}
	stmts = script_split_to_run(&vm->down, true, true, NULL);
	vm->skipped = lasting_statement(&vm->down, stmts);
	if (vm->skipped)
		return false;
	script_check(&vm->down, stmts, CHECK_DOWN_SCRIPT);
	memset(&vm->report, 0, sizeof(vm->report));
	GetUserIdAndSecContext(&user, &context);
	SetUserIdAndSecContext(user, context | SECURITY_LOCAL_USERID_CHANGE);
	execute_in_transaction(&vm->down, stmts, false, NULL, &vm->report);
	SetUserIdAndSecContext(user, context);
	vm->differences = schema_differences(vm->before, schema_objects_read());
	return false;
}

/*
 * The error of a script as a row's detail: "file, line N: message".  A
 * cancel is the caller's, and stops the call, unless
 * migrate.statement_timeout may have made it.
 */
static char *
error_detail(VerifyMigration *vm, const Script *script, ErrorData *edata)
{
	int			line = vm->report.error_line;

	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED &&
		migrate_statement_timeout <= 0)
		ReThrowError(edata);
	if (line <= 0)
		line = script_check_line();
	if (line <= 0)
		return psprintf("%s: %s", script->file, edata->message);
	return psprintf("%s, line %d: %s", script->file, line, edata->message);
}

/* What a partial generated down script does not undo, as a detail */
static char *
partial_detail(const DownGenerator *g)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfo(&buf, "the generated down script does not undo %s",
					 g->file);
	foreach(lc, g->partials)
	{
		InversePartial *p = lfirst(lc);
		int			i = foreach_current_index(lc);

		if (i == VERIFY_DETAIL_MAX)
		{
			appendStringInfo(&buf, "; and %d more",
							 list_length(g->partials) - i);
			break;
		}
		appendStringInfoString(&buf, i == 0 ? ", " : "; ");
		if (p->count > 1)
			appendStringInfo(&buf, "lines %d-%d (%d statements): %s",
							 p->line, p->last_line, p->count, p->reason);
		else
			appendStringInfo(&buf, "line %d: %s", p->line, p->reason);
	}
	return buf.data;
}

/* "added", "missing" or "changed": what the round trip did to an object */
static const char *
round_trip_change(const DriftedObject *d)
{
	return strcmp(d->change, "removed") == 0 ? "missing" : d->change;
}

/*
 * The objects that differ after the round trip, as a detail ("added table
 * public.t; changed column public.u.c: ...") and as a JSON array of
 * {change, object_type, object_identity, description}.
 */
static void
differences_detail(List *differences, char **detail, char **objects)
{
	StringInfoData text;
	StringInfoData json;
	ListCell   *lc;

	initStringInfo(&text);
	initStringInfo(&json);
	appendStringInfoChar(&json, '[');
	foreach(lc, differences)
	{
		DriftedObject *d = lfirst(lc);
		int			i = foreach_current_index(lc);

		if (i < VERIFY_DETAIL_MAX)
		{
			appendStringInfo(&text, "%s%s %s %s", i > 0 ? "; " : "",
							 round_trip_change(d), d->object_type,
							 d->object_identity);
			if (strcmp(d->change, "changed") == 0)
				appendStringInfo(&text, ": %s", d->description);
		}
		else if (i == VERIFY_DETAIL_MAX)
			appendStringInfo(&text, "; and %d more",
							 list_length(differences) - i);
		appendStringInfoString(&json, i > 0 ? ", {\"change\": " : "{\"change\": ");
		escape_json(&json, round_trip_change(d));
		appendStringInfoString(&json, ", \"object_type\": ");
		escape_json(&json, d->object_type);
		appendStringInfoString(&json, ", \"object_identity\": ");
		escape_json(&json, d->object_identity);
		appendStringInfoString(&json, ", \"description\": ");
		escape_json(&json, d->description);
		appendStringInfoChar(&json, '}');
	}
	appendStringInfoChar(&json, ']');
	*detail = text.data;
	*objects = json.data;
}

/*
 * The round trip of one pending migration, and its row.  *before is the
 * schema before it, in *before_cxt; when its up script ran, they become
 * the schema after it, for the next migration.  Returns false when the up
 * script failed.
 */
static bool
verify_migration(VerifyOutput *out, const MigrationSet *set,
				 const Migration *m, const SchemaObjects **before,
				 MemoryContext *before_cxt)
{
	VerifyMigration vm;
	ErrorData  *edata;
	const char *down_kind;
	MemoryContext after_cxt;
	MemoryContext cxt = CurrentMemoryContext;
	char	   *detail;
	char	   *objects;

	memset(&vm, 0, sizeof(vm));
	vm.set = set;
	vm.m = m;
	vm.before = *before;
	if (m->repeatable)
	{
		emit_row(out, m->name, "skipped", NULL,
				 "a repeatable migration is run again when it changes, never rolled back",
				 NULL);
		return true;
	}
	migration_load(set, m, &vm.lm, true);

	/* its DDL is the migration's, never blocked, and not logged */
	ddl_log_mark(m->name, set->folder->source, false);
	edata = try_in_subtransaction_or_undo(verify_up, &vm);
	ddl_log_unmark();
	if (edata)
	{
		emit_row(out, m->name, "error", NULL,
				 error_detail(&vm, &vm.lm.up, edata), NULL);
		return false;
	}
	if (vm.skipped)
	{
		emit_row(out, m->name, "skipped", NULL, vm.skipped, NULL);
		return true;
	}

	/* the schema the up script made, the next migration's before */
	after_cxt = AllocSetContextCreate(MemoryContextGetParent(*before_cxt),
									  "pg_migrate verify schema",
									  ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(after_cxt);
	*before = schema_objects_read();
	MemoryContextSwitchTo(cxt);

	if (vm.lm.down.sql)
	{
		vm.down = vm.lm.down;
		down_kind = "written";
	}
	else if (vm.gen)
	{
		vm.down.file = psprintf("%s (generated down)", vm.lm.up.file);
		vm.down.sql = inverse_script(vm.gen);
		vm.down.first_line = 1;
		down_kind = "generated";
	}
	else
		down_kind = NULL;

	if (down_kind == NULL)
		emit_row(out, m->name, "irreversible", NULL,
				 "no down script, and migrate.generate_down is off", NULL);
	else if (vm.gen && vm.gen->partials != NIL)
		emit_row(out, m->name, "irreversible", down_kind,
				 partial_detail(vm.gen), NULL);
	else
	{
		edata = NULL;
		if (vm.gen && script_is_blank(vm.down.sql))
			/* nothing for a rollback to undo: the up script's own result */
			vm.differences = schema_differences(vm.before, *before);
		else
		{
			ddl_log_mark(m->name, set->folder->source, false);
			edata = try_in_subtransaction_or_undo(verify_down, &vm);
			ddl_log_unmark();
		}
		if (edata)
			emit_row(out, m->name, "error", down_kind,
					 error_detail(&vm, &vm.down, edata), NULL);
		else if (vm.skipped)
			emit_row(out, m->name, "skipped", down_kind, vm.skipped, NULL);
		else if (vm.differences == NIL)
			emit_row(out, m->name, "exact", down_kind, NULL, NULL);
		else
		{
			differences_detail(vm.differences, &detail, &objects);
			emit_row(out, m->name, "differs", down_kind, detail, objects);
		}
	}

	MemoryContextDelete(*before_cxt);
	*before_cxt = after_cxt;
	return true;
}

/* What verify_pending() verifies, and where */
typedef struct VerifyFolder
{
	const Folder *folder;
	const char *format;
	VerifyOutput *out;
	MemoryContext cxt;
} VerifyFolder;

/*
 * Verify every pending migration of the folder, in the subtransaction
 * try_in_subtransaction_or_undo() runs it in, always rolled back.
 */
static bool
verify_pending(void *arg)
{
	VerifyFolder *vf = arg;
	MemoryContext per_migration;
	MemoryContext before_cxt;
	const SchemaObjects *before;
	AppliedSet	as;
	const char *failed = NULL;

	per_migration = AllocSetContextCreate(vf->cxt, "pg_migrate migration",
										  ALLOCSET_DEFAULT_SIZES);
	before_cxt = AllocSetContextCreate(vf->cxt, "pg_migrate verify schema",
									   ALLOCSET_DEFAULT_SIZES);
	take_run_lock(false);
	applied_set_load(&as, vf->folder, vf->format, DEBUG1, NULL, NULL);
	MemoryContextSwitchTo(before_cxt);
	before = schema_objects_read();

	for (int i = 0; i < as.set->count; i++)
	{
		Migration  *m = &as.set->items[i];

		if (as.is_applied[i] || m->adopted)
			continue;
		MemoryContextSwitchTo(per_migration);
		if (failed)
			emit_row(vf->out, m->name, "skipped", NULL,
					 psprintf("not run: migration \"%s\" before it failed",
							  failed),
					 NULL);
		else if (!verify_migration(vf->out, as.set, m, &before, &before_cxt))
			failed = m->name;
		MemoryContextSwitchTo(vf->cxt);
		MemoryContextReset(per_migration);
	}
	MemoryContextDelete(per_migration);
	MemoryContextDelete(before_cxt);
	return false;
}

/*
 * migrate.verify(): the round trip of every pending migration of a
 * folder, in order, in a subtransaction always rolled back.  The run lock
 * is taken inside it, so that verify does not interleave with a real run
 * and holds the lock only while it runs.
 */
void
verify_folder(const Folder *folder, const char *format, ResultSink *sink)
{
	VerifyOutput out;
	VerifyFolder vf;
	ErrorData  *edata;

	out.sink = sink;
	out.owner = CurrentResourceOwner;
	vf.folder = folder;
	vf.format = format;
	vf.out = &out;
	vf.cxt = CurrentMemoryContext;

	edata = try_in_subtransaction_or_undo(verify_pending, &vf);
	if (edata)
		ReThrowError(edata);
}
