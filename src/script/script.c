/*-------------------------------------------------------------------------
 *
 * script.c
 *	  The text of a migration script: splitting it into statements with
 *	  PostgreSQL's own scanner and parser, rejecting what cannot run inside
 *	  the server, reading its directives, its checksum, and pointing errors
 *	  at the file and line they come from.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/keywords.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "parser/scanner.h"
#include "tcop/cmdtag.h"
#include "tcop/utility.h"
#include "utils/expandeddatum.h"
#include "utils/memutils.h"

#include "util/compat.h"
#include "script/script.h"

static void script_error_callback(void *arg);

/*
 * The line the error context last named while a script was split or
 * checked (not run), for callers that collect such errors: see
 * script_check_line().
 */
static int	check_line = 0;
static int	skip_space_and_comments(const char *s, int pos, int end);

/* Byte length of the first nchars characters of s (stops at the end) */
int
script_chars_to_bytes(const char *s, int nchars)
{
	const char *p = s;

	while (nchars-- > 0 && *p)
		p += pg_mblen(p);
	return p - s;
}

/* Line within the file of byte offset in script->sql */
int
script_line_at(const Script *script, int offset)
{
	return script->first_line +
		count_newlines(script->sql, strnlen(script->sql, offset));
}

/*
 * Length of the UTF-8 byte order mark that editors on Windows start files
 * with: 3 when sql starts with one (in a UTF-8 database), else 0.  Nothing
 * that reads a script may take it for text: the parser would reject it, and
 * it would hide a directive on the first line.
 */
int
script_bom_length(const char *sql)
{
	if (strncmp(sql, "\xEF\xBB\xBF", 3) == 0 &&
		GetDatabaseEncoding() == PG_UTF8)
		return 3;
	return 0;
}

/* A statement's text, NUL-terminated, in the current memory context */
char *
script_statement_text(const Script *script, const Statement *stmt)
{
	return pnstrdup(script->sql + stmt->offset, stmt->len);
}

/*
 * A script as a text datum without a copy of it: an expanded object, which
 * is flattened straight into the tuple that stores it.  The tracking table
 * keeps every up script, and a copy of a seed-data script of hundreds of
 * megabytes would only sit beside the script and the tuple.
 */
typedef struct ScriptText
{
	ExpandedObjectHeader hdr;
	const char *sql;
	Size		len;
} ScriptText;

static Size
script_text_flat_size(ExpandedObjectHeader *eohptr)
{
	return VARHDRSZ + ((ScriptText *) eohptr)->len;
}

static void
script_text_flatten(ExpandedObjectHeader *eohptr, void *result,
					Size allocated_size)
{
	ScriptText *st = (ScriptText *) eohptr;

	Assert(allocated_size == VARHDRSZ + st->len);
	SET_VARSIZE(result, VARHDRSZ + st->len);
	memcpy(VARDATA(result), st->sql, st->len);
}

static const ExpandedObjectMethods script_text_methods = {
	script_text_flat_size,
	script_text_flatten
};

/*
 * The script's text as a read-only text datum, valid as long as the script
 * is.  Passed to a query as a parameter, it is copied only into the tuple,
 * provided that the plan is generic (a custom plan copies parameters into
 * constants).
 */
Datum
script_text_datum(const Script *script)
{
	ScriptText *st = palloc(sizeof(ScriptText));

	st->sql = script->sql;
	st->len = strlen(script->sql);
	if (st->len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("migration file \"%s\" is too large to record", script->file)));
	EOH_init_header(&st->hdr, &script_text_methods, CurrentMemoryContext);
	return EOHPGetRODatum(&st->hdr);
}

/*
 * The body of a DO block or CREATE FUNCTION, whose errors are positioned
 * relative to the body rather than to the statement; NULL for others.
 */
static const char *
function_body(Node *parsetree)
{
	List	   *options;
	ListCell   *lc;

	if (IsA(parsetree, DoStmt))
		options = ((DoStmt *) parsetree)->args;
	else if (IsA(parsetree, CreateFunctionStmt))
		options = ((CreateFunctionStmt *) parsetree)->options;
	else
		return NULL;

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "as") != 0 || def->arg == NULL)
			continue;
		if (IsA(def->arg, String))
			return strVal(def->arg);
		if (IsA(def->arg, List) && list_length((List *) def->arg) == 1)
			return strVal(linitial((List *) def->arg));
	}
	return NULL;
}

/*
 * Error context: "migration <file>, line <n>".  When the error carries a
 * position, in the text being parsed or the statement being run, the line
 * is that of the position; otherwise that of the statement.
 */
static void
script_error_callback(void *arg)
{
	ScriptErrorContext *ctx = arg;
	int			line = ctx->line;
	int			pos;

	/* execute.c places errors in function bodies itself */
	if (ctx->body_pending)
		return;

	if (ctx->sql)
	{
		pos = geterrposition();
		if (pos > 0)
		{
			/* the client would show it against the wrong query text */
			errposition(0);

			/*
			 * Outside SPI (in the background worker) nothing turned the
			 * position into one within the statement's text: do it here.
			 */
			if (ctx->stmt)
			{
				internalerrposition(pos);
				internalerrquery(ctx->sql);
			}
		}
		else if (ctx->stmt)
			pos = getinternalerrposition();
		if (pos > 0)
			line += count_newlines(ctx->sql,
								   script_chars_to_bytes(ctx->sql, pos - 1));
	}

	/* the line of an error is also wanted as data */
	ctx->reported_line = line;
	if (ctx->stmt == NULL)
		check_line = line;
	if (line > 0)
		errcontext("migration %s, line %d", ctx->script->file, line);
	else
		errcontext("migration %s", ctx->script->file);
}

void
script_error_push(ScriptErrorContext *ctx, const Script *script)
{
	ctx->script = script;
	ctx->stmt = NULL;
	ctx->sql = NULL;
	ctx->line = 0;
	ctx->reported_line = 0;
	ctx->body_pending = false;
	ctx->callback.callback = script_error_callback;
	ctx->callback.arg = ctx;
	ctx->callback.previous = error_context_stack;
	error_context_stack = &ctx->callback;
}

void
script_error_pop(ScriptErrorContext *ctx)
{
	error_context_stack = ctx->callback.previous;
}

/* First byte at or after pos, before end, that is not blank or a comment */
static int
skip_space_and_comments(const char *s, int pos, int end)
{
	while (pos < end)
	{
		if (isspace((unsigned char) s[pos]))
			pos++;
		else if (s[pos] == '-' && pos + 1 < end && s[pos + 1] == '-')
		{
			while (pos < end && s[pos] != '\n')
				pos++;
		}
		else if (s[pos] == '/' && pos + 1 < end && s[pos + 1] == '*')
		{
			int			depth = 1;

			pos += 2;
			while (pos < end && depth > 0)
			{
				if (s[pos] == '/' && pos + 1 < end && s[pos + 1] == '*')
					depth++, pos += 2;
				else if (s[pos] == '*' && pos + 1 < end && s[pos + 1] == '/')
					depth--, pos += 2;
				else
					pos++;
			}
		}
		else
			break;
	}
	return pos;
}

/*
 * psql meta-commands (\i, \set, \copy ...) are read by psql, never by the
 * server, and the server's parser only says "syntax error at or near \".
 * A backslash outside literals is never valid SQL: the scanner returns it
 * as a token of its own, at offset at of text.
 */
static void
reject_meta_command(const char *text, int at)
{
	int			len;

	for (len = 1; text[at + len] && !isspace((unsigned char) text[at + len]); len++)
		;
	/* "\." ends the inline data of COPY FROM STDIN, as psql reads it */
	if (len == 2 && text[at + 1] == '.')
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("COPY FROM STDIN is not supported in a migration"),
				 errdetail("The line ends the inline data of a COPY FROM STDIN, which only psql can send."),
				 errhint("Load data with INSERT statements, or with COPY FROM a file on the database server."),
				 errposition(pg_mbstrlen_with_len(text, at) + 1)));
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("psql meta-command \"%.*s\" is not supported in a migration",
					len, text + at),
			 errdetail("Meta-commands are interpreted by psql; the server never sees them."),
			 errhint("Write the migration in plain SQL: inline the statements of an included file, and use literal values instead of psql variables."),
			 errposition(pg_mbstrlen_with_len(text, at) + 1)));
}

/* Room for n entries at index i of list, in place of the one there */
static void
make_room(StatementList *list, int i, int n)
{
	int			count = list->count - 1 + n;

	if (count > list->allocated)
	{
		list->allocated = Max(count, list->allocated * 2);
		list->items = repalloc(list->items, sizeof(Statement) * list->allocated);
	}
	memmove(&list->items[i + n], &list->items[i + 1],
			sizeof(Statement) * (list->count - i - 1));
	list->count = count;
}

/* Grammar token code of a keyword */
static int
keyword_token(const char *word)
{
	int			kwnum = ScanKeywordLookup(word, &ScanKeywords);

	if (kwnum < 0)
		elog(ERROR, "\"%s\" is not a keyword", word);
	return ScanKeywordTokens[kwnum];
}

/*
 * How far into a statement the splitter is: its first tokens, and the
 * nesting that keeps a ';' from ending it, as psql's own lexer tracks it
 * (psqlscan.l).  A ';' inside parentheses belongs to the statement (CREATE
 * RULE ... DO (a; b)), and so does one inside the body of CREATE
 * [OR REPLACE] FUNCTION|PROCEDURE ... BEGIN ATOMIC ... END, where CASE
 * also ends with END.
 */
typedef struct SplitState
{
	int			start;			/* offset of the first token, or -1 */
	int			ntokens;
	int			first[4];		/* token codes of the first four tokens */
	bool		routine;		/* CREATE [OR REPLACE] FUNCTION|PROCEDURE */
	int			paren_depth;
	int			begin_depth;
	/* token codes of the keywords looked for */
	int			kw_create,
				kw_or,
				kw_replace,
				kw_function,
				kw_procedure,
				kw_begin,
				kw_case,
				kw_end;
} SplitState;

static bool
is_routine_word(const SplitState *st, int tok)
{
	return tok == st->kw_function || tok == st->kw_procedure;
}

/* Follow one token of a statement; true when it is the ';' that ends it */
static bool
split_token(SplitState *st, int tok)
{
	if (st->ntokens < lengthof(st->first))
		st->first[st->ntokens] = tok;
	st->ntokens++;
	if (st->first[0] == st->kw_create &&
		((st->ntokens == 2 && is_routine_word(st, st->first[1])) ||
		 (st->ntokens == 4 && st->first[1] == st->kw_or &&
		  st->first[2] == st->kw_replace && is_routine_word(st, st->first[3]))))
		st->routine = true;

	if (tok == '(')
		st->paren_depth++;
	else if (tok == ')' && st->paren_depth > 0)
		st->paren_depth--;
	else if (tok == ';')
		return st->paren_depth == 0 && st->begin_depth == 0;
	else if (st->routine && st->paren_depth == 0)
	{
		if (tok == st->kw_begin)
			st->begin_depth++;
		else if (tok == st->kw_case && st->begin_depth > 0)
			st->begin_depth++;
		else if (tok == st->kw_end && st->begin_depth > 0)
			st->begin_depth--;
	}
	return false;
}

/*
 * Append the statement between byte offsets start and end of script->sql
 * to list; *counted and *line say how far lines have been counted.
 */
static void
add_statement(StatementList *list, const Script *script, int start, int end,
			  int *counted, int *line)
{
	Statement  *stmt;

	if (list->count == list->allocated)
	{
		list->allocated *= 2;
		list->items = repalloc(list->items, sizeof(Statement) * list->allocated);
	}
	*line += count_newlines(script->sql + *counted, start - *counted);
	*counted = start;

	stmt = &list->items[list->count++];
	memset(stmt, 0, sizeof(Statement));
	stmt->offset = start;
	stmt->len = end - start;
	stmt->line = *line;
}

/*
 * The server's scanner over a script's text (past its byte order mark), in
 * memory of its own, with errors placed in the script.
 */
typedef struct ScriptScan
{
	ScriptErrorContext ctx;
	MemoryContext scan_cxt;		/* the scanner's copy of the text and its
								 * buffers */
	MemoryContext token_cxt;	/* token values, reset as the scan goes */
	MemoryContext old;
	core_yyscan_t scanner;
	core_yy_extra_type yyextra;
} ScriptScan;

/* Start scanning text, leaving scan->scan_cxt current */
static void
scan_start(ScriptScan *scan, const Script *script, const char *text)
{
	script_error_push(&scan->ctx, script);
	scan->ctx.sql = text;
	scan->ctx.line = script->first_line;
	scan->scan_cxt = AllocSetContextCreate(CurrentMemoryContext,
										   "pg_migrate scanner",
										   ALLOCSET_DEFAULT_SIZES);
	scan->token_cxt = AllocSetContextCreate(scan->scan_cxt, "pg_migrate tokens",
											ALLOCSET_SMALL_SIZES);
	scan->old = MemoryContextSwitchTo(scan->scan_cxt);
	scan->scanner = scanner_init(text, &scan->yyextra, &ScanKeywords,
								 ScanKeywordTokens);
	/* the parser warns about escapes in literals, once per statement */
	scan->yyextra.escape_string_warning = false;
}

/* Free the scanner and its memory, back in the caller's context */
static void
scan_end(ScriptScan *scan)
{
	MemoryContextSwitchTo(scan->old);
	scanner_finish(scan->scanner);
	MemoryContextDelete(scan->scan_cxt);
	script_error_pop(&scan->ctx);
}

/*
 * First pass: where each statement starts and ends, found with the
 * server's own scanner, and psql meta-commands rejected.  The scanner
 * copies the whole script, and identifiers and literals are copied for
 * each token: token memory is freed as the scan goes, and the scanner's
 * before anything is parsed.
 */
static void
find_statements(const Script *script, StatementList *list)
{
	int			bom = script_bom_length(script->sql);
	const char *text = script->sql + bom;
	ScriptScan	scan;
	core_YYSTYPE yylval;
	int			yylloc;
	int			tok;
	uint32		ntokens = 0;
	SplitState	st;
	int			counted = 0;
	int			line = script->first_line;

	memset(&st, 0, sizeof(st));
	st.start = -1;
	st.kw_create = keyword_token("create");
	st.kw_or = keyword_token("or");
	st.kw_replace = keyword_token("replace");
	st.kw_function = keyword_token("function");
	st.kw_procedure = keyword_token("procedure");
	st.kw_begin = keyword_token("begin");
	st.kw_case = keyword_token("case");
	st.kw_end = keyword_token("end");

	scan_start(&scan, script, text);

	/*
	 * Past scanner_init(), the scanner allocates only the values of tokens
	 * (and grows its literal buffer, which stays in scan_cxt).
	 */
	MemoryContextSwitchTo(scan.token_cxt);
	while ((tok = core_yylex(&yylval, &yylloc, scan.scanner)) != 0)
	{
		if (++ntokens % 1024 == 0)
		{
			MemoryContextReset(scan.token_cxt);
			CHECK_FOR_INTERRUPTS();
		}
		if (tok == '\\')
			reject_meta_command(text, yylloc);
		if (st.start < 0)
		{
			if (tok == ';')
				continue;		/* an empty statement */
			memset(&st.first, 0, sizeof(st.first));
			st.start = yylloc;
			st.ntokens = 0;
			st.routine = false;
			st.paren_depth = st.begin_depth = 0;
		}
		if (split_token(&st, tok))
		{
			add_statement(list, script, bom + st.start, bom + yylloc,
						  &counted, &line);
			st.start = -1;
		}
	}
	if (st.start >= 0)
		add_statement(list, script, bom + st.start, bom + scan.yyextra.scanbuflen,
					  &counted, &line);

	scan_end(&scan);
}

/* The statements PostgreSQL runs only outside a transaction block */
typedef enum TopLevelOnly
{
	NOT_TOP_LEVEL_ONLY,
	TOP_CREATE_INDEX_CONCURRENTLY,
	TOP_DROP_INDEX_CONCURRENTLY,
	TOP_REINDEX_CONCURRENTLY,
	TOP_REINDEX_DATABASE,
	TOP_VACUUM,
	TOP_ALTER_SYSTEM,
	TOP_CREATE_DATABASE,
	TOP_DROP_DATABASE,
	TOP_CREATE_TABLESPACE,
	TOP_DROP_TABLESPACE
} TopLevelOnly;

/* their names, for the error message */
static const char *const top_level_names[] = {
	[TOP_CREATE_INDEX_CONCURRENTLY] = "CREATE INDEX CONCURRENTLY",
	[TOP_DROP_INDEX_CONCURRENTLY] = "DROP INDEX CONCURRENTLY",
	[TOP_REINDEX_CONCURRENTLY] = "REINDEX CONCURRENTLY",
	[TOP_REINDEX_DATABASE] = "REINDEX DATABASE",
	[TOP_VACUUM] = "VACUUM",
	[TOP_ALTER_SYSTEM] = "ALTER SYSTEM",
	[TOP_CREATE_DATABASE] = "CREATE DATABASE",
	[TOP_DROP_DATABASE] = "DROP DATABASE",
	[TOP_CREATE_TABLESPACE] = "CREATE TABLESPACE",
	[TOP_DROP_TABLESPACE] = "DROP TABLESPACE"
};

static TopLevelOnly
needs_top_level(Node *node)
{
	switch (nodeTag(node))
	{
		case T_IndexStmt:
			return ((IndexStmt *) node)->concurrent ?
				TOP_CREATE_INDEX_CONCURRENTLY : NOT_TOP_LEVEL_ONLY;
		case T_DropStmt:
			return ((DropStmt *) node)->concurrent ?
				TOP_DROP_INDEX_CONCURRENTLY : NOT_TOP_LEVEL_ONLY;
		case T_ReindexStmt:
			{
				ReindexStmt *stmt = (ReindexStmt *) node;

				if (compat_reindex_concurrently(stmt))
					return TOP_REINDEX_CONCURRENTLY;
				if (stmt->kind == REINDEX_OBJECT_DATABASE ||
					stmt->kind == REINDEX_OBJECT_SYSTEM)
					return TOP_REINDEX_DATABASE;
				return NOT_TOP_LEVEL_ONLY;
			}
		case T_VacuumStmt:
			return ((VacuumStmt *) node)->is_vacuumcmd ?
				TOP_VACUUM : NOT_TOP_LEVEL_ONLY;
		case T_AlterSystemStmt:
			return TOP_ALTER_SYSTEM;
		case T_CreatedbStmt:
			return TOP_CREATE_DATABASE;
		case T_DropdbStmt:
			return TOP_DROP_DATABASE;
		case T_CreateTableSpaceStmt:
			return TOP_CREATE_TABLESPACE;
		case T_DropTableSpaceStmt:
			return TOP_DROP_TABLESPACE;
		default:
			return NOT_TOP_LEVEL_ONLY;
	}
}

/* What the checks and the runner need to know of a parsed statement */
static void
note_facts(Statement *stmt, Node *node, const char *text)
{
	const char *body;

	stmt->tag = (uint16) CreateCommandTag(node);
	stmt->top_level = (uint8) needs_top_level(node);
	stmt->kind = STMT_PLAIN;
	stmt->body_offset = -1;
	stmt->body_len = 0;

	if (IsA(node, TransactionStmt))
	{
		TransactionStmt *ts = (TransactionStmt *) node;

		if ((ts->kind == TRANS_STMT_BEGIN || ts->kind == TRANS_STMT_START) &&
			ts->options == NIL)
			stmt->kind = STMT_WRAPPER_BEGIN;
		else if (ts->kind == TRANS_STMT_COMMIT && !ts->chain)
			stmt->kind = STMT_WRAPPER_COMMIT;
		else
			stmt->kind = STMT_TRANSACTION_CONTROL;
	}
	else if (IsA(node, CopyStmt) && ((CopyStmt *) node)->filename == NULL)
		stmt->kind = ((CopyStmt *) node)->is_from ?
			STMT_COPY_FROM_STDIN : STMT_COPY_TO_STDOUT;
	else if ((body = function_body(node)) != NULL)
	{
		/* a body written as a literal with escapes is not in the text */
		const char *at = strstr(text, body);

		stmt->kind = IsA(node, DoStmt) ? STMT_DO_BLOCK : STMT_FUNCTION_BODY;
		if (at)
		{
			stmt->body_offset = stmt->offset + (at - text);
			stmt->body_len = strlen(body);
		}
	}
}

/*
 * Parse the statement at index i of list on its own, reporting syntax
 * errors with their line, and note its facts.  Returns how many statements
 * it turned out to be: the parser may find several where psql's rules
 * found one (a function named "begin"), or none.
 */
static int
parse_statement(const Script *script, StatementList *list, int i,
				ScriptErrorContext *ctx)
{
	Statement	stmt = list->items[i];
	char	   *text = script_statement_text(script, &stmt);
	List	   *raw;
	ListCell   *lc;

	ctx->sql = text;
	ctx->line = stmt.line;
	raw = compat_raw_parser(text);

	if (list_length(raw) != 1)
		make_room(list, i, list_length(raw));
	foreach(lc, raw)
	{
		RawStmt    *rs = lfirst_node(RawStmt, lc);
		Statement  *out = &list->items[i + foreach_current_index(lc)];
		int			start = 0;
		int			end = stmt.len;

		if (list_length(raw) > 1)
		{
			start = skip_space_and_comments(text, rs->stmt_location, end);
			if (rs->stmt_len > 0)
				end = rs->stmt_location + rs->stmt_len;
		}
		out->offset = stmt.offset + start;
		out->len = end - start;
		out->line = stmt.line + count_newlines(text, start);
		note_facts(out, rs->stmt, text + start);
	}
	return list_length(raw);
}

/*
 * Split a script into its statements.  Syntax errors are reported here,
 * with the file and line, before anything runs.  The list is empty for a
 * script with no statements (only blanks and comments).
 *
 * The whole script is never parsed at once: for a script of millions of
 * statements (seed data) all the parse trees together take many times the
 * size of the script.  Statements are delimited first, then each is parsed
 * in a memory context reset after it.
 */
StatementList *
script_split(const Script *script)
{
	StatementList *list = palloc(sizeof(StatementList));
	ScriptErrorContext ctx;
	MemoryContext parse_cxt,
				old;

	check_line = 0;
	list->count = 0;
	list->allocated = 16;
	list->items = palloc(sizeof(Statement) * list->allocated);
	find_statements(script, list);

	parse_cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_migrate parser",
									  ALLOCSET_DEFAULT_SIZES);
	script_error_push(&ctx, script);
	for (int i = 0; i < list->count;)
	{
		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(parse_cxt);
		i += parse_statement(script, list, i, &ctx);
		MemoryContextSwitchTo(old);
		MemoryContextReset(parse_cxt);
	}
	script_error_pop(&ctx);
	MemoryContextDelete(parse_cxt);
	return list;
}

/*
 * Reject statements that SPI cannot run, before any of them runs: SPI would
 * return an error code rather than raise, and a half-run script is worse
 * than none.  In a script that runs in a transaction, also reject what
 * PostgreSQL only runs outside one, with a hint at the way that works,
 * rather than let it fail halfway with "cannot be executed from a
 * function".
 */
void
script_check(const Script *script, const StatementList *statements,
			 TransactionCheck check)
{
	ScriptErrorContext ctx;
	bool		all_top_level = script_all_top_level(statements);

	script_error_push(&ctx, script);
	for (int i = 0; i < statements->count; i++)
	{
		const Statement *stmt = &statements->items[i];
		const char *top_level = top_level_names[stmt->top_level];

		ctx.line = stmt->line;
		if (stmt->kind == STMT_TRANSACTION_CONTROL ||
			stmt->kind == STMT_WRAPPER_BEGIN || stmt->kind == STMT_WRAPPER_COMMIT)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
					 errmsg("transaction control statement %s is not allowed in a migration",
							GetCommandTagName((CommandTag) stmt->tag)),
					 errdetail("pg_migrate runs every migration inside a transaction of its own."),
					 errhint("Remove the statement; to run statements one by one outside a transaction, put \"-- migrate:no-transaction\" at the top of the file.")));
		if (stmt->kind == STMT_COPY_FROM_STDIN || stmt->kind == STMT_COPY_TO_STDOUT)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("COPY %s is not supported in a migration",
							stmt->kind == STMT_COPY_FROM_STDIN ? "FROM STDIN" : "TO STDOUT"),
					 errdetail("A migration runs inside the server, where there is no client to exchange data with."),
					 errhint("Load data with INSERT statements, or with COPY FROM a file on the database server.")));
		if (check != CHECK_NOTHING && top_level)
			ereport(ERROR,
					(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
					 errmsg("%s cannot run inside a transaction block", top_level),
					 errdetail("This script runs in a transaction, and PostgreSQL runs %s only outside one.",
							   top_level),
					 check == CHECK_DOWN_SCRIPT ?
					 errhint("migrate.rollback() runs down scripts in one transaction: mark the down script \"-- migrate:no-transaction\" and roll back with CALL migrate.run_rollback(...), which runs it outside a transaction block.") :
					 all_top_level ?
					 errhint("Apply the folder with CALL migrate.run(...), which runs a migration made only of such statements outside a transaction block.") :
					 errhint("Move %s into a migration file of its own, which CALL migrate.run(...) runs outside a transaction block, or mark this one \"-- migrate:no-transaction\" to run all its statements one by one.",
							 top_level)));
	}
	script_error_pop(&ctx);
}

/*
 * What follows the given directive on each of the script's leading comment
 * lines that hold it, as in "-- migrate:allow rule-a, rule-b": the rest of
 * the line, "" when nothing follows.  Only comments before the first
 * statement count, so that a directive cannot hide in the middle of a file.
 */
List *
script_directive_lines(const char *sql, const char *directive)
{
	const char *p = sql + script_bom_length(sql);
	size_t		dlen = strlen(directive);
	List	   *lines = NIL;

	for (;;)
	{
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (p[0] != '-' || p[1] != '-')
			return lines;
		p += 2;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, directive, dlen) == 0 &&
			(p[dlen] == '\0' || isspace((unsigned char) p[dlen])))
		{
			const char *rest = p + dlen;

			lines = lappend(lines, pnstrdup(rest, strcspn(rest, "\r\n")));
		}
		while (*p && *p != '\n')
			p++;
	}
}

/* Whether the script's leading comments hold the directive, as above */
bool
script_has_directive(const char *sql, const char *directive)
{
	return script_directive_lines(sql, directive) != NIL;
}

/*
 * The file line of the latest error raised while splitting or checking a
 * script, as a number (0 when it had none), read once right after the
 * error was caught.
 */
int
script_check_line(void)
{
	int			line = check_line;

	check_line = 0;
	return line;
}

/*
 * Whether a script holds no statement at all: only blanks, comments and
 * semicolons.  No parser is involved, so a broken script is never blank
 * and never raises an error here.
 */
bool
script_is_blank(const char *sql)
{
	int			len = strlen(sql);
	int			pos = script_bom_length(sql);

	for (;;)
	{
		pos = skip_space_and_comments(sql, pos, len);
		if (pos < len && sql[pos] == ';')
			pos++;
		else
			return pos >= len;
	}
}

/*
 * Drop a whole-file transaction wrapper: a plain BEGIN (or START
 * TRANSACTION) as the first statement together with a plain COMMIT (or
 * END) as the last.  Tools that send a file as one string (golang-migrate)
 * run such files, and pg_migrate's own transaction plays the wrapper's
 * part.  Returns whether there was one; transaction control anywhere else
 * is left for script_check() to refuse.
 */
bool
script_unwrap(StatementList *statements)
{
	int			n = statements->count;

	if (n < 2 || statements->items[0].kind != STMT_WRAPPER_BEGIN ||
		statements->items[n - 1].kind != STMT_WRAPPER_COMMIT)
		return false;
	memmove(&statements->items[0], &statements->items[1],
			sizeof(Statement) * (n - 2));
	statements->count = n - 2;
	return true;
}

/*
 * Whether every statement of a non-empty script is one PostgreSQL runs
 * only outside a transaction block (CREATE INDEX CONCURRENTLY, VACUUM...):
 * such a migration needs no transaction of its own.
 */
bool
script_all_top_level(const StatementList *statements)
{
	for (int i = 0; i < statements->count; i++)
		if (!statements->items[i].top_level)
			return false;
	return statements->count > 0;
}

/*
 * Whether a parsed statement runs only outside a transaction block: the
 * DDL log refuses those made outside migrations before they start, as
 * they commit before their end (CREATE INDEX CONCURRENTLY).
 */
bool
script_statement_top_level_only(Node *parsetree)
{
	return needs_top_level(parsetree) != NOT_TOP_LEVEL_ONLY;
}

/* Whether a parsed ALTER TABLE detaches a partition concurrently */
bool
script_detaches_concurrently(Node *parsetree)
{
	ListCell   *lc;

	if (!IsA(parsetree, AlterTableStmt))
		return false;
	foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (cmd->subtype == AT_DetachPartition &&
			compat_detach_concurrent((PartitionCmd *) cmd->def))
			return true;
	}
	return false;
}

/*
 * Whether a parsed statement is a CONCURRENTLY one (CREATE INDEX, DROP
 * INDEX, REINDEX, ALTER TABLE ... DETACH PARTITION): those take no lock
 * the application's reads and writes wait for, but wait themselves for
 * the transactions older than them, for as long as those last.  Cut
 * short by a lock timeout, they leave an invalid index or a partition
 * half detached behind.
 */
bool
script_statement_concurrently(Node *parsetree)
{
	switch (needs_top_level(parsetree))
	{
		case TOP_CREATE_INDEX_CONCURRENTLY:
		case TOP_DROP_INDEX_CONCURRENTLY:
		case TOP_REINDEX_CONCURRENTLY:
			return true;
		default:
			return script_detaches_concurrently(parsetree);
	}
}

/* A comment line that matched, while script_find_comment_line() decides */
typedef struct CommentCandidate
{
	int			offset;			/* of its "--", in the text scanned */
	int			len;			/* up to the end of the line, without \r */
	int			match;			/* what the matcher returned */
} CommentCandidate;

/*
 * Whether the candidate comment line at c, which follows the token that
 * starts at tok_start, is inside that token: a string, a quoted name or a
 * dollar-quoted body that spans lines.  value is the token's value as the
 * scanner decoded it, or NULL when the token cannot span lines.  A line
 * inside a literal is in its value after a newline; same_before candidates
 * of the same text come earlier after that token, and the value must hold
 * one more of them.
 */
static bool
candidate_in_literal(const char *text, const CommentCandidate *c,
					 const char *value, int same_before)
{
	char	   *needle;
	const char *p;
	int			found = 0;

	if (value == NULL)
		return false;
	needle = psprintf("\n%.*s", c->len, text + c->offset);
	for (p = value; (p = strstr(p, needle)) != NULL; p++)
		if (found++ == same_before)
			break;
	pfree(needle);
	return p != NULL;
}

/*
 * Whether the token the scanner returned at start can hold a newline: a
 * quoted string (also E'', B'', X'', U&''), a quoted name or a
 * dollar-quoted string.  Told from its first characters, as the token
 * codes of the grammar are not part of every server's headers; a '$'
 * returned as a single character or starting a parameter ($1) is none.
 */
static bool
token_is_literal(const char *text, int start, int tok)
{
	const char *t = text + start;

	if (tok < 256)
		return false;
	if (t[0] == '\'' || t[0] == '"')
		return true;
	if (t[0] == '$')
		return !isdigit((unsigned char) t[1]);
	if (strchr("eEbBxX", t[0]) && t[1] == '\'')
		return true;
	return (t[0] == 'u' || t[0] == 'U') && t[1] == '&' &&
		(t[2] == '\'' || t[2] == '"');
}

/*
 * The first comment line of a script that match() accepts: a line whose
 * first non-blank characters are "--", outside any string, quoted name or
 * dollar-quoted body (where it is text, not a comment).  match() gets the
 * line from its "--" to its end; what it returns (nonzero when it accepts
 * the line) is returned, and *offset set to the byte offset of the "--" in
 * script->sql.  0 when no line matches.
 *
 * Lines are looked at first; only a script with a matching line is run
 * through the server's scanner, which tells the lines outside literals
 * from those inside one.
 */
int
script_find_comment_line(const Script *script, CommentLineMatch match,
						 void *arg, int *offset)
{
	int			bom = script_bom_length(script->sql);
	const char *text = script->sql + bom;
	CommentCandidate *cands = NULL;
	int			ncands = 0;
	int			allocated = 0;
	int			result = 0;
	const char *line;

	for (line = text; *line; line++)
	{
		const char *p = line;
		const char *eol;
		int			m;

		while (*p == ' ' || *p == '\t')
			p++;
		eol = strchr(p, '\n');
		if (eol == NULL)
			eol = p + strlen(p);
		if (p[0] == '-' && p[1] == '-')
		{
			int			len = eol - p;

			if (len > 0 && p[len - 1] == '\r')
				len--;
			if ((m = match(p, len, arg)) != 0)
			{
				if (ncands == allocated)
				{
					allocated = Max(allocated * 2, 4);
					cands = cands ? repalloc(cands, sizeof(CommentCandidate) * allocated) :
						palloc(sizeof(CommentCandidate) * allocated);
				}
				cands[ncands].offset = p - text;
				cands[ncands].len = len;
				cands[ncands].match = m;
				ncands++;
			}
		}
		line = eol;
		if (*line == '\0')
			break;
	}

	if (ncands > 0)
	{
		ScriptScan	scan;
		core_YYSTYPE yylval;
		int			yylloc;
		int			tok;
		char	   *value = NULL;	/* of the latest token, when a literal */
		int			next = 0;
		int			first_after = 0;	/* first candidate after the token */

		scan_start(&scan, script, text);
		for (;;)
		{
			MemoryContextSwitchTo(scan.token_cxt);
			tok = core_yylex(&yylval, &yylloc, scan.scanner);
			MemoryContextSwitchTo(scan.scan_cxt);

			/* the candidates before this token follow the previous one */
			while (next < ncands && (tok == 0 || cands[next].offset < yylloc))
			{
				int			same_before = 0;

				for (int i = first_after; i < next; i++)
					if (cands[i].len == cands[next].len &&
						strncmp(text + cands[i].offset, text + cands[next].offset,
								cands[i].len) == 0)
						same_before++;
				if (!candidate_in_literal(text, &cands[next], value, same_before))
				{
					result = cands[next].match;
					*offset = bom + cands[next].offset;
					break;
				}
				next++;
			}
			if (result != 0 || next == ncands || tok == 0)
				break;

			/* keep the value of a literal only until the next token */
			if (value)
				pfree(value);
			value = token_is_literal(text, yylloc, tok) ?
				pstrdup(yylval.str) : NULL;
			first_after = next;
			MemoryContextReset(scan.token_cxt);
			CHECK_FOR_INTERRUPTS();
		}
		scan_end(&scan);
		pfree(cands);
	}
	return result;
}

/*
 * The statements of a script as they will run: a whole-file transaction
 * wrapper is dropped where the script runs in a transaction (up scripts
 * not marked no-transaction, and down scripts); a script left with no
 * statement is an error.  *unwrapped, when given, says whether there was
 * a wrapper.
 */
StatementList *
script_split_to_run(const Script *script, bool down, bool in_transaction,
					bool *unwrapped)
{
	StatementList *stmts = script_split(script);
	bool		had_wrapper = in_transaction && script_unwrap(stmts);

	if (unwrapped)
		*unwrapped = had_wrapper;
	if (stmts->count == 0 && down)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("down script \"%s\" contains no SQL statements",
						script->file),
				 errhint("Delete the file if the migration cannot be undone.")));
	if (stmts->count == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("migration file \"%s\" contains no SQL statements",
						script->file),
				 errhint("Add the migration's statements, or delete the file.")));
	return stmts;
}
