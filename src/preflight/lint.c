/*-------------------------------------------------------------------------
 *
 * lint.c
 *	  Lint of pending migrations, executing nothing: each statement's parse
 *	  tree is judged by lint_rules.c against the catalog, the statements
 *	  that follow an ALTER TYPE ... ADD VALUE are searched for the new
 *	  value, and the transactions open right now on the tables the
 *	  migration locks are read from pg_locks and pg_stat_activity.
 *
 * migrate.lint() returns the findings as rows; apply and run lint each
 * pending migration among their checks (preflight.c), and migrate.lint (the
 * setting) says whether a finding is a WARNING or stops the run.  A
 * "-- migrate:allow <rule>" line among a migration's leading comments
 * silences that rule for the migration; apply and run log each finding so
 * allowed in migrate.history.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/keywords.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "parser/parser.h"
#include "parser/scanner.h"
#include "storage/lock.h"
#include "tcop/cmdtag.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "util/compat.h"
#include "preflight/preflight.h"

#define ALLOW_DIRECTIVE "migrate:allow"
#define INVALID_STATEMENT_HINT "Correct the statement: the migration fails there when it runs."

/* lint_text()'s arguments, for try_in_subtransaction() */
typedef struct LintTextCall
{
	LintState  *st;
	const Script *script;
	const Statement *stmt;
	const char *text;
} LintTextCall;

/* lint_one()'s, likewise; owner is the one the result rows are put under */
typedef struct LintOneCall
{
	ResultSink *sink;
	const MigrationSet *set;
	const Migration *m;
	ResourceOwner owner;
} LintOneCall;

static int	string_token(void);
static bool uses_value(const char *text, const char *value, bool in_body);
static void lint_enum_uses(LintState *st, const char *text);
static void lint_long_transactions(LintState *st);
static void follow_search_path(Node *node);
static void lint_text(LintState *st, const Script *script,
					  const Statement *stmt, const char *text);
static void lint_text_or_finding(LintState *st, const Script *script,
								 const Statement *stmt, const char *text);
static List *allowed_rules(const Script *script);
static bool rule_allowed(List *allowed, const char *rule);

/* The message of an invalid_statement finding: the server's error, coded */
static char *
invalid_statement_message(const ErrorData *edata)
{
	return psprintf("%s: %s", unpack_sql_state(edata->sqlerrcode),
					edata->message);
}

/*
 * The scanner's token code for a string literal.  The grammar's token
 * codes are not installed with the server headers of every version, so it
 * is learnt from the scanner itself.
 */
static int
string_token(void)
{
	static int	token = 0;

	if (token == 0)
	{
		core_yyscan_t scanner;
		core_yy_extra_type yyextra;
		core_YYSTYPE yylval;
		int			yylloc;

		scanner = scanner_init("'x'", &yyextra, &ScanKeywords, ScanKeywordTokens);
		token = core_yylex(&yylval, &yylloc, scanner);
		scanner_finish(scanner);
	}
	return token;
}

/*
 * Whether a statement's text holds value as a string literal; with
 * in_body (a DO block), also quoted inside the body's literal.
 */
static bool
uses_value(const char *text, const char *value, bool in_body)
{
	core_yyscan_t scanner;
	core_yy_extra_type yyextra;
	core_YYSTYPE yylval;
	int			yylloc;
	int			tok;
	int			sconst = string_token();
	char	   *quoted = quote_literal_cstr(value);
	bool		found = false;

	scanner = scanner_init(text, &yyextra, &ScanKeywords, ScanKeywordTokens);
	yyextra.escape_string_warning = false;
	while (!found && (tok = core_yylex(&yylval, &yylloc, scanner)) != 0)
	{
		if (tok != sconst)
			continue;
		found = strcmp(yylval.str, value) == 0 ||
			(in_body && strstr(yylval.str, quoted) != NULL);
	}
	scanner_finish(scanner);
	return found;
}

/* A statement that uses an enum value added earlier in the transaction */
static void
lint_enum_uses(LintState *st, const char *text)
{
	ListCell   *lc;

	foreach(lc, st->enum_values)
	{
		LintEnumValue *ev = lfirst(lc);

		if (ev->line < st->stmt->line &&
			uses_value(text, ev->value, st->stmt->kind == STMT_DO_BLOCK))
			lint_add(st, "enum_value_used", st->stmt->line,
					 psprintf("value \"%s\" added to enum type \"%s\" at line %d cannot be used before the migration commits: it fails with \"unsafe use of new value\"",
							  ev->value, ev->type, ev->line),
					 pstrdup("Move the statements that use the new value into a later migration, or mark this migration \"-- migrate:no-transaction\"."));
	}
}

/* The lock modes by the names pg_locks gives them */
static LOCKMODE
lock_mode_named(const char *name)
{
	static const char *const names[] = {
		NULL, "AccessShareLock", "RowShareLock", "RowExclusiveLock",
		"ShareUpdateExclusiveLock", "ShareLock", "ShareRowExclusiveLock",
		"ExclusiveLock", "AccessExclusiveLock"
	};

	for (int i = 1; i < lengthof(names); i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return NoLock;
}

/*
 * Transactions open longer than migrate.lint_long_transaction that hold a
 * lock on a table the migration will lock, in a mode that makes it wait.
 */
static void
lint_long_transactions(LintState *st)
{
	Oid			argtypes[2] = {OIDARRAYOID, INT4OID};
	Datum		args[2];
	Datum	   *oids;
	int			n = 0;
	ListCell   *lc;
	int			rc;

	if (st->locks == NIL)
		return;
	oids = palloc(sizeof(Datum) * list_length(st->locks));
	foreach(lc, st->locks)
		oids[n++] = ObjectIdGetDatum(((LintLock *) lfirst(lc))->relid);
	args[0] = PointerGetDatum(construct_array(oids, n, OIDOID, sizeof(Oid),
											  true, TYPALIGN_INT));
	args[1] = Int32GetDatum(migrate_lint_long_transaction);

	rc = SPI_execute_with_args("SELECT l.relation, l.mode, a.pid,"
							   " pg_catalog.date_trunc('second', pg_catalog.clock_timestamp()"
							   "   OPERATOR(pg_catalog.-) a.xact_start)::pg_catalog.text,"
							   " a.query_start::pg_catalog.text"
							   " FROM pg_catalog.pg_locks l"
							   " JOIN pg_catalog.pg_stat_activity a"
							   "   ON a.pid OPERATOR(pg_catalog.=) l.pid"
							   " WHERE l.locktype OPERATOR(pg_catalog.=) 'relation'"
							   " AND l.granted"
							   " AND l.relation OPERATOR(pg_catalog.=) ANY ($1)"
							   " AND l.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()"
							   " AND a.xact_start OPERATOR(pg_catalog.<) (pg_catalog.clock_timestamp()"
							   "   OPERATOR(pg_catalog.-) pg_catalog.make_interval(secs =>"
							   "   $2 OPERATOR(pg_catalog./) 1000.0::pg_catalog.float8))"
							   " ORDER BY a.xact_start, a.pid",
							   2, argtypes, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_locks: %s", SPI_result_code_string(rc));

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Oid			relid = atooid(SPI_getvalue(tup, desc, 1));
		char	   *mode = SPI_getvalue(tup, desc, 2);
		char	   *pid = SPI_getvalue(tup, desc, 3);
		char	   *age = SPI_getvalue(tup, desc, 4);
		char	   *query_start = SPI_getvalue(tup, desc, 5);
		LOCKMODE	held = lock_mode_named(mode);

		foreach(lc, st->locks)
		{
			LintLock   *lock = lfirst(lc);
			bool		conflicts = false;

			if (lock->relid != relid || held == NoLock)
				continue;
			for (LOCKMODE m = AccessShareLock; m <= AccessExclusiveLock; m++)
				if ((lock->modes & LOCKBIT_ON(m)) && DoLockModesConflict(held, m))
					conflicts = true;
			if (conflicts)
				lint_add(st, "long_transaction", lock->line,
						 psprintf("process %s has had a transaction open for %s (its latest query started at %s) holding %s on table \"%s\": the migration will wait for it to end",
								  pid, age ? age : "?",
								  query_start ? query_start : "an unknown time",
								  mode, lock->relname),
						 psprintf("Run the migration once that transaction has ended, or end it with SELECT pg_terminate_backend(%s); with migrate.lock_timeout set, the migration fails rather than stall the queries on \"%s\".",
								  pid, lock->relname));
		}
	}
	SPI_freetuptable(SPI_tuptable);
}

/* The search_path a SET, RESET or set_config() of a constant sets */
static void
set_search_path(const char *value)
{
	(void) set_config_option("search_path", value, PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
}

/* An A_Const string's text, or NULL */
static const char *
const_string(Node *node)
{
	if (node == NULL || !IsA(node, A_Const) ||
		!IsA(&((A_Const *) node)->val, String))
		return NULL;
	return strVal(&((A_Const *) node)->val);
}

/*
 * A statement that changes search_path (SET, RESET, RESET ALL, or SELECT
 * set_config('search_path', '<constant>', ...)) changes where the
 * statements after it find their tables when the migration runs: lint
 * follows it.  A value computed at run time cannot be followed.
 */
static void
follow_search_path(Node *node)
{
	ListCell   *lc;

	if (IsA(node, VariableSetStmt))
	{
		VariableSetStmt *vs = (VariableSetStmt *) node;

		if (vs->kind == VAR_RESET_ALL ||
			((vs->kind == VAR_RESET || vs->kind == VAR_SET_DEFAULT) &&
			 strcmp(vs->name, "search_path") == 0))
			set_search_path(NULL);
		else if (vs->kind == VAR_SET_VALUE &&
				 strcmp(vs->name, "search_path") == 0)
			set_search_path(ExtractSetVariableArgs(vs));
		return;
	}
	if (!IsA(node, SelectStmt))
		return;
	foreach(lc, ((SelectStmt *) node)->targetList)
	{
		ResTarget  *rt = lfirst_node(ResTarget, lc);
		FuncCall   *fc;
		const char *name;
		const char *value;

		if (!IsA(rt->val, FuncCall))
			continue;
		fc = (FuncCall *) rt->val;
		if (strcmp(strVal(llast(fc->funcname)), "set_config") != 0 ||
			list_length(fc->args) != 3)
			continue;
		name = const_string(linitial(fc->args));
		value = const_string(lsecond(fc->args));
		if (name && value && pg_strcasecmp(name, "search_path") == 0)
			set_search_path(value);
	}
}

/* Lint one statement's text: its parse trees, and the settings it makes */
static void
lint_text(LintState *st, const Script *script, const Statement *stmt,
		  const char *text)
{
	ListCell   *lc;

	if (st->enum_values != NIL)
		lint_enum_uses(st, text);
	foreach(lc, compat_raw_parser(text))
	{
		Node	   *node = lfirst_node(RawStmt, lc)->stmt;

		lint_statement(st, node);
		follow_search_path(node);
	}
}

static void
lint_text_call(void *arg)
{
	LintTextCall *call = arg;

	lint_text(call->st, call->script, call->stmt, call->text);
}

/*
 * The same, a statement that cannot be parsed or names something invalid
 * (a name with too many dots, a type modifier the type does not take)
 * being a finding of its file and line rather than the end of the lint:
 * the rest of the migration, and of the folder, is still linted.  The
 * statement is judged in a subtransaction, so that what the error left
 * (cache references, locks) is released.
 */
static void
lint_text_or_finding(LintState *st, const Script *script,
					 const Statement *stmt, const char *text)
{
	LintTextCall call = {st, script, stmt, text};
	ErrorData  *edata = try_in_subtransaction(lint_text_call, &call);
	int			line = stmt->line;

	if (edata == NULL)
		return;
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		ReThrowError(edata);
	if (edata->cursorpos > 0)
		line = script_line_at(script, stmt->offset +
							  script_chars_to_bytes(text, edata->cursorpos - 1));
	lint_add(st, "invalid_statement", line, invalid_statement_message(edata),
			 pstrdup(INVALID_STATEMENT_HINT));
	FreeErrorData(edata);
}

/*
 * Every finding of a migration's up script (statements as it will run),
 * allowed or not, in statement order and the long transactions last.
 * Statements are parsed again one at a time, in a context reset after
 * each, as script_split() does.  With errors_as_findings (lint and plan),
 * a statement that cannot be judged is a finding; otherwise (apply and
 * run, before anything runs) its error is raised, as it was always.
 * What the migration does to search_path is followed, and undone at the
 * end.
 */
List *
lint_migration(const Script *script, const StatementList *stmts,
			   bool no_transaction, bool errors_as_findings)
{
	LintState	st;
	ScriptErrorContext ctx;
	MemoryContext parse_cxt,
				old;
	int			nest = NewGUCNestLevel();

	memset(&st, 0, sizeof(st));
	st.cxt = CurrentMemoryContext;
	st.no_transaction = no_transaction;
	parse_cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_migrate lint",
									  ALLOCSET_DEFAULT_SIZES);
	script_error_push(&ctx, script);
	/* the search_path the migration set is undone even when lint fails */
	PG_TRY();
	{
		for (int i = 0; i < stmts->count; i++)
		{
			const Statement *stmt = &stmts->items[i];
			CommandTag	tag = (CommandTag) stmt->tag;
			char	   *text;

			CHECK_FOR_INTERRUPTS();
			/*
			 * The rules concern DDL: seed data is only searched for new values,
			 * and a SELECT for a set_config() of search_path.
			 */
			if ((tag == CMDTAG_INSERT || tag == CMDTAG_UPDATE ||
				 tag == CMDTAG_DELETE) && st.enum_values == NIL)
				continue;
			st.stmt = stmt;
			ctx.line = stmt->line;
			old = MemoryContextSwitchTo(parse_cxt);
			text = script_statement_text(script, stmt);
			if (tag == CMDTAG_SELECT && st.enum_values == NIL &&
				strstr(text, "set_config") == NULL)
			{
				MemoryContextSwitchTo(old);
				MemoryContextReset(parse_cxt);
				continue;
			}
			if (errors_as_findings)
				lint_text_or_finding(&st, script, stmt, text);
			else
				lint_text(&st, script, stmt, text);
			MemoryContextSwitchTo(old);
			MemoryContextReset(parse_cxt);
		}
	}
	PG_FINALLY();
	{
		AtEOXact_GUC(false, nest);
	}
	PG_END_TRY();
	script_error_pop(&ctx);
	MemoryContextDelete(parse_cxt);
	lint_long_transactions(&st);
	return st.findings;
}

/*
 * The rules named by "-- migrate:allow <rule> ..." lines among the
 * script's leading comments, read as script_has_directive() reads
 * directives.
 */
static List *
allowed_rules(const Script *script)
{
	List	   *rules = NIL;
	ListCell   *lc;

	foreach(lc, script_directive_lines(script->sql, ALLOW_DIRECTIVE))
	{
		const char *p = lfirst(lc);

		for (;;)
		{
			const char *start;
			char	   *rule;

			while (isspace((unsigned char) *p) || *p == ',')
				p++;
			if (*p == '\0')
				break;
			for (start = p; *p && !isspace((unsigned char) *p) && *p != ','; p++)
				;
			rule = pnstrdup(start, p - start);
			if (!lint_rule_known(rule))
				ereport(WARNING,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unrecognized lint rule \"%s\" in file \"%s\"",
								rule, script->file),
						 errhint("migrate:allow takes the names of lint rules, as migrate.lint() returns them.")));
			rules = lappend(rules, rule);
		}
	}
	return rules;
}

static bool
rule_allowed(List *allowed, const char *rule)
{
	return string_list_member(allowed, rule);
}

/*
 * apply and run: lint a pending migration among the checks made before
 * anything runs, its transaction mode known (after_commit: the statements
 * after a drizzle migration's COMMIT, outside a transaction).  Each finding
 * is a WARNING, or all of them one error, as migrate.lint says; allowed
 * findings are logged in migrate.history with the migration's other
 * records.
 */
void
lint_pending(const Migration *m, const LoadedMigration *lm,
			 const StatementList *stmts, const StatementList *after_commit)
{
	List	   *findings;
	List	   *allowed;
	List	   *reported = NIL;
	ListCell   *lc;
	ScriptErrorContext ctx;
	StringInfoData list;
	LintFinding *first;

	if (migrate_lint_action == LINT_OFF)
		return;
	findings = lint_migration(&lm->up, stmts, m->no_transaction, false);
	if (after_commit)
		findings = list_concat(findings,
							   lint_migration(&lm->up, after_commit, true, false));
	allowed = allowed_rules(&lm->up);
	foreach(lc, findings)
	{
		LintFinding *f = lfirst(lc);

		if (rule_allowed(allowed, f->rule))
			tracking_record_lint_allowed(m, lm->up.file, f->line, f->rule,
										 f->message);
		else
			reported = lappend(reported, f);
	}
	if (reported == NIL)
		return;

	script_error_push(&ctx, &lm->up);
	if (migrate_lint_action == LINT_WARNING)
	{
		foreach(lc, reported)
		{
			LintFinding *f = lfirst(lc);

			ctx.line = f->line;
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("%s", f->message),
					 errdetail("Lint rule \"%s\" found this in migration \"%s\"; add \"-- migrate:allow %s\" to the file's leading comments once it was considered.",
							   f->rule, m->name, f->rule),
					 errhint("%s", f->hint)));
		}
		script_error_pop(&ctx);
		return;
	}

	initStringInfo(&list);
	foreach(lc, reported)
	{
		LintFinding *f = lfirst(lc);

		if (list.len > 0)
			appendStringInfoChar(&list, '\n');
		appendStringInfo(&list, "line %d: %s: %s", f->line, f->rule, f->message);
	}
	first = linitial(reported);
	ctx.line = first->line;
	if (list_length(reported) == 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s", first->message),
				 errdetail("Lint rule \"%s\" found this in migration \"%s\", and migrate.lint is \"error\", so nothing was run; add \"-- migrate:allow %s\" to the file's leading comments once it was considered.",
						   first->rule, m->name, first->rule),
				 errhint("%s", first->hint)));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("migration \"%s\" has %d lint findings",
					m->name, list_length(reported)),
			 errdetail_internal("%s", list.data),
			 errhint("migrate.lint() gives a hint for each; add \"-- migrate:allow <rule>\" to the file's leading comments for a finding that was considered.")));
}

/*
 * The findings of a migration's up script that migrate.lint() and
 * migrate.plan() report: those the migration allows left out.
 */
List *
lint_reported(const Script *script, const StatementList *stmts,
			  bool no_transaction)
{
	List	   *allowed = allowed_rules(script);
	List	   *reported = NIL;
	ListCell   *lc;

	foreach(lc, lint_migration(script, stmts, no_transaction, true))
	{
		LintFinding *f = lfirst(lc);

		if (!rule_allowed(allowed, f->rule))
			reported = lappend(reported, f);
	}
	return reported;
}

/*
 * One row of migrate.lint().  The tuplestore may spill to a temporary
 * file, which must belong to the call (owner) rather than to the
 * subtransaction the migration is linted in.
 */
static void
emit_finding(ResultSink *sink, ResourceOwner owner, const Migration *m,
			 const char *file, LintFinding *f)
{
	Datum		values[7];
	bool		nulls[7] = {0};
	ResourceOwner save = CurrentResourceOwner;

	values[0] = CStringGetTextDatum(m->name);
	values[1] = CStringGetTextDatum(file);
	values[2] = Int32GetDatum(f->line);
	nulls[2] = f->line <= 0;
	values[3] = CStringGetTextDatum(f->rule);
	values[4] = CStringGetTextDatum(f->severity);
	values[5] = CStringGetTextDatum(f->message);
	values[6] = CStringGetTextDatum(f->hint);
	CurrentResourceOwner = owner;
	tuplestore_putvalues(sink->store, sink->desc, values, nulls);
	CurrentResourceOwner = save;
}

static void
lint_one_call(void *arg)
{
	LintOneCall *call = arg;
	LoadedMigration lm;
	StatementList *stmts;
	CommitSplit split;
	List	   *findings;
	ListCell   *lc;

	migration_load(call->set, call->m, &lm, false);
	stmts = script_split_to_run(&lm.up, false, !lm.no_transaction, NULL);
	/* as run() would run it: see script_split_to_run() and drizzle.c */
	(void) drizzle_split_at_commit(&lm, stmts, &split);
	findings = lint_reported(&lm.up, stmts,
							 lm.no_transaction ||
							 (!split.after && script_all_top_level(stmts)));
	if (split.after)
		findings = list_concat(findings, lint_reported(&lm.up, split.after, true));
	foreach(lc, findings)
		emit_finding(call->sink, call->owner, call->m, lm.up.file, lfirst(lc));
}

/*
 * The findings of one pending migration.  A migration that cannot be read
 * or split into statements (a syntax error) is one finding of its file
 * and line, and the lint goes on with the next: it runs in a
 * subtransaction, so that what the error left is released.
 */
static void
lint_one(ResultSink *sink, const MigrationSet *set, const Migration *m)
{
	LintOneCall call = {sink, set, m, CurrentResourceOwner};
	ErrorData  *edata = try_in_subtransaction(lint_one_call, &call);
	LintFinding f;

	if (edata == NULL)
		return;
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		ReThrowError(edata);
	f.rule = "invalid_statement";
	f.severity = "error";
	f.line = script_check_line();
	f.message = invalid_statement_message(edata);
	f.hint = pstrdup(INVALID_STATEMENT_HINT);
	emit_finding(sink, call.owner, m, m->up_file, &f);
}

/*
 * migrate.lint(): the findings of every pending migration of a folder,
 * those a migration allows left out.
 */
void
lint_folder(const Folder *folder, const char *format, ResultSink *sink)
{
	AppliedSet	as;
	MigrationSet *set;
	bool	   *is_applied;
	MemoryContext per_migration = AllocSetContextCreate(CurrentMemoryContext,
														"pg_migrate migration",
														ALLOCSET_DEFAULT_SIZES);

	applied_set_load(&as, folder, format, DEBUG1, NULL, NULL);
	set = as.set;
	is_applied = as.is_applied;
	for (int i = 0; i < set->count; i++)
	{
		Migration  *m = &set->items[i];
		MemoryContext old;

		if (is_applied[i] || m->adopted)
			continue;
		old = MemoryContextSwitchTo(per_migration);
		lint_one(sink, set, m);
		MemoryContextSwitchTo(old);
		MemoryContextReset(per_migration);
	}
}
