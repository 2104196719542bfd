/*-------------------------------------------------------------------------
 *
 * script.c
 *	  The text of a migration script: splitting it into statements with
 *	  PostgreSQL's own parser, rejecting what cannot run inside the server,
 *	  reading its directives, its checksum, and pointing errors at the file
 *	  and line they come from.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/keywords.h"
#include "mb/pg_wchar.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "parser/scanner.h"
#include "tcop/cmdtag.h"
#include "tcop/utility.h"

#include "compat.h"
#include "pg_migrate.h"

static void script_error_callback(void *arg);
static void check_meta_commands(const Script *script);
static int	skip_space_and_comments(const char *s, int pos, int end);

/* Hex SHA-256 of a buffer into out[MIGRATE_CHECKSUM_LEN + 1] */
void
checksum_hex(const char *data, size_t len, char *out)
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];

	compat_sha256((const uint8 *) data, len, digest);
	for (int i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

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
	int			line = script->first_line;

	for (int i = 0; i < offset && script->sql[i]; i++)
		if (script->sql[i] == '\n')
			line++;
	return line;
}

/*
 * The body of a DO block or CREATE FUNCTION, whose errors are positioned
 * relative to the body rather than to the statement; NULL for others.
 */
const char *
script_function_body(Node *parsetree)
{
	List	   *options;
	ListCell   *lc;

	if (parsetree == NULL)
		return NULL;
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
 * position, the line is that of the position; otherwise that of the
 * statement being checked or run.
 */
static void
script_error_callback(void *arg)
{
	ScriptErrorContext *ctx = arg;
	const Script *script = ctx->script;
	int			line = ctx->line;
	int			pos;

	if (ctx->stmt == NULL)
	{
		/* the parser reports positions within the whole script */
		pos = geterrposition();
		if (pos > 0)
		{
			line = script_line_at(script, script_chars_to_bytes(script->sql, pos - 1));
			/* the client would show it against the wrong query text */
			errposition(0);
		}
	}
	else if (ctx->body_pending)
	{
		/* execute.c places errors in function bodies itself */
		return;
	}
	else
	{
		const Statement *stmt = ctx->stmt;

		pos = geterrposition();
		if (pos > 0)
		{
			/*
			 * Outside SPI (in the background worker) nothing turned the
			 * position into one within the statement's text: do it here.
			 */
			errposition(0);
			internalerrposition(pos);
			internalerrquery(stmt->sql);
		}
		else
			pos = getinternalerrposition();
		if (pos > 0)
			line = script_line_at(script, stmt->offset +
								  script_chars_to_bytes(stmt->sql, pos - 1));
		else
			line = stmt->line;
	}

	/* the line of a statement's error is also wanted as data */
	if (ctx->stmt != NULL)
		ctx->line = line;
	if (line > 0)
		errcontext("migration %s, line %d", script->file, line);
	else
		errcontext("migration %s", script->file);
}

void
script_error_push(ScriptErrorContext *ctx, const Script *script)
{
	ctx->script = script;
	ctx->stmt = NULL;
	ctx->line = 0;
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
 * A backslash outside literals is never valid SQL, so the server's own
 * lexer finds them; it only runs when some line starts with a backslash.
 */
static void
check_meta_commands(const Script *script)
{
	const char *sql = script->sql;
	bool		candidate = false;
	core_yyscan_t scanner;
	core_yy_extra_type yyextra;
	core_YYSTYPE yylval;
	int			yylloc;
	int			tok;

	for (const char *p = sql; *p; p++)
	{
		if (p == sql || p[-1] == '\n')
		{
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '\\')
			{
				candidate = true;
				break;
			}
			if (*p == '\0')
				break;
		}
	}
	if (!candidate)
		return;

	scanner = scanner_init(sql, &yyextra, &ScanKeywords, ScanKeywordTokens);
	while ((tok = core_yylex(&yylval, &yylloc, scanner)) != 0)
	{
		int			len;

		if (tok != '\\')
			continue;
		for (len = 1; sql[yylloc + len] && !isspace((unsigned char) sql[yylloc + len]); len++)
			;
		/* "\." ends the inline data of COPY FROM STDIN, as psql reads it */
		if (len == 2 && sql[yylloc + 1] == '.')
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("COPY FROM STDIN is not supported in a migration"),
					 errdetail("The line ends the inline data of a COPY FROM STDIN, which only psql can send."),
					 errhint("Load data with INSERT statements, or with COPY FROM a file on the database server."),
					 errposition(pg_mbstrlen_with_len(sql, yylloc) + 1)));
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("psql meta-command \"%.*s\" is not supported in a migration",
						len, sql + yylloc),
				 errdetail("Meta-commands are interpreted by psql; the server never sees them."),
				 errhint("Write the migration in plain SQL: inline the statements of an included file, and use literal values instead of psql variables."),
				 errposition(pg_mbstrlen_with_len(sql, yylloc) + 1)));
	}
	scanner_finish(scanner);
}

/*
 * Split a script into its statements.  Syntax errors are reported here,
 * with the file and line, before anything runs.  Returns NIL for a script
 * with no statements (only blanks and comments).
 */
List *
script_split(const Script *script)
{
	ScriptErrorContext ctx;
	List	   *raw;
	List	   *result = NIL;
	ListCell   *lc;
	Script		text = *script;
	const char *sql;
	int			total;
	int			line = script->first_line;
	int			counted = 0;

	/*
	 * Editors on Windows start files with a UTF-8 byte order mark, which the
	 * parser would reject.  Blank it out rather than remove it, so that
	 * offsets stay those of the file (and its checksum that of the file).
	 */
	if (strncmp(script->sql, "\xEF\xBB\xBF", 3) == 0 &&
		GetDatabaseEncoding() == PG_UTF8)
	{
		char	   *copy = pstrdup(script->sql);

		memset(copy, ' ', 3);
		text.sql = copy;
	}
	sql = text.sql;
	total = strlen(sql);

	script_error_push(&ctx, &text);
	check_meta_commands(&text);
	raw = compat_raw_parser(sql);
	script_error_pop(&ctx);

	foreach(lc, raw)
	{
		RawStmt    *rs = lfirst_node(RawStmt, lc);
		Statement  *stmt = palloc(sizeof(Statement));
		int			start = rs->stmt_location < 0 ? 0 : rs->stmt_location;
		int			end = rs->stmt_len > 0 ? start + rs->stmt_len : total;

		/* leading comments belong to the statement but not its line */
		start = skip_space_and_comments(sql, start, end);
		for (; counted < start; counted++)
			if (sql[counted] == '\n')
				line++;

		stmt->sql = pnstrdup(sql + start, end - start);
		stmt->offset = start;
		stmt->line = line;
		stmt->parsetree = rs->stmt;
		result = lappend(result, stmt);
	}
	return result;
}

/*
 * The statements PostgreSQL runs only outside a transaction block, named
 * for the error message; NULL for the others.
 */
static const char *
needs_top_level(Node *node)
{
	switch (nodeTag(node))
	{
		case T_IndexStmt:
			return ((IndexStmt *) node)->concurrent ? "CREATE INDEX CONCURRENTLY" : NULL;
		case T_DropStmt:
			return ((DropStmt *) node)->concurrent ? "DROP INDEX CONCURRENTLY" : NULL;
		case T_ReindexStmt:
			{
				ReindexStmt *stmt = (ReindexStmt *) node;

				if (compat_reindex_concurrently(stmt))
					return "REINDEX CONCURRENTLY";
				if (stmt->kind == REINDEX_OBJECT_DATABASE ||
					stmt->kind == REINDEX_OBJECT_SYSTEM)
					return "REINDEX DATABASE";
				return NULL;
			}
		case T_VacuumStmt:
			return ((VacuumStmt *) node)->is_vacuumcmd ? "VACUUM" : NULL;
		case T_AlterSystemStmt:
			return "ALTER SYSTEM";
		case T_CreatedbStmt:
			return "CREATE DATABASE";
		case T_DropdbStmt:
			return "DROP DATABASE";
		case T_CreateTableSpaceStmt:
			return "CREATE TABLESPACE";
		case T_DropTableSpaceStmt:
			return "DROP TABLESPACE";
		default:
			return NULL;
	}
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
script_check(const Script *script, List *statements, TransactionCheck check)
{
	ScriptErrorContext ctx;
	ListCell   *lc;

	script_error_push(&ctx, script);
	foreach(lc, statements)
	{
		Statement  *stmt = lfirst(lc);
		Node	   *node = stmt->parsetree;

		ctx.line = stmt->line;
		if (IsA(node, TransactionStmt))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
					 errmsg("transaction control statement %s is not allowed in a migration",
							GetCommandTagName(CreateCommandTag(node))),
					 errdetail("pg_migrate runs every migration inside a transaction of its own."),
					 errhint("Remove the statement; to run statements one by one outside a transaction, put \"-- migrate:no-transaction\" at the top of the file.")));
		if (IsA(node, CopyStmt) && ((CopyStmt *) node)->filename == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("COPY %s is not supported in a migration",
							((CopyStmt *) node)->is_from ? "FROM STDIN" : "TO STDOUT"),
					 errdetail("A migration runs inside the server, where there is no client to exchange data with."),
					 errhint("Load data with INSERT statements, or with COPY FROM a file on the database server.")));
		if (check != CHECK_NOTHING && needs_top_level(node))
			ereport(ERROR,
					(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
					 errmsg("%s cannot run inside a transaction", needs_top_level(node)),
					 errdetail("This script runs in a transaction, and PostgreSQL runs %s only outside one.",
							   needs_top_level(node)),
					 check == CHECK_UP_SCRIPT ?
					 errhint("Put \"-- migrate:no-transaction\" at the top of the migration and apply it with CALL migrate.run(...), which runs its statements one by one outside a transaction.") :
					 errhint("migrate.rollback() runs down scripts in one transaction: write the down script without it, or undo the migration by hand and delete its row from migrate.migrations.")));
	}
	script_error_pop(&ctx);
}

/*
 * Whether the script's leading comment lines hold the given directive, as
 * in "-- migrate:no-transaction".  Only comments before the first statement
 * count, so that a directive cannot hide in the middle of a file.
 */
bool
script_has_directive(const char *sql, const char *directive)
{
	const char *p = sql;
	size_t		dlen = strlen(directive);

	for (;;)
	{
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (p[0] != '-' || p[1] != '-')
			return false;
		p += 2;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, directive, dlen) == 0 &&
			(p[dlen] == '\0' || isspace((unsigned char) p[dlen])))
			return true;
		while (*p && *p != '\n')
			p++;
	}
}
