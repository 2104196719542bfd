/*-------------------------------------------------------------------------
 *
 * script.h
 *	  A script's text as statements: splitting it with the server's
 *	  scanner, checking what it may hold, and naming its file and line in
 *	  errors.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_MIGRATE_SCRIPT_H
#define PG_MIGRATE_SCRIPT_H

#include "postgres.h"

#include "util/util.h"

/* A script ready to run: its text and where it came from, for errors */
typedef struct Script
{
	const char *file;			/* file name shown in errors */
	char	   *sql;
	int			first_line;		/* line of sql[0] within the file */
} Script;

/*
 * What script_split() found a statement to be, as far as the checks and the
 * runner need to know: everything else is read again from its text when it
 * runs.
 */
typedef enum StatementKind
{
	STMT_PLAIN,
	STMT_TRANSACTION_CONTROL,	/* SAVEPOINT, ROLLBACK, BEGIN ISOLATION ... */
	STMT_WRAPPER_BEGIN,			/* a plain BEGIN or START TRANSACTION */
	STMT_WRAPPER_COMMIT,		/* a plain COMMIT or END */
	STMT_COPY_FROM_STDIN,
	STMT_COPY_TO_STDOUT,
	STMT_DO_BLOCK,				/* DO with its body */
	STMT_FUNCTION_BODY			/* CREATE FUNCTION or PROCEDURE ... AS body */
} StatementKind;

/*
 * One statement of a script: where it is, and compact facts about it.  A
 * seed-data script can hold millions of statements, so neither their text
 * nor their parse trees are kept; the text is copied out of the script only
 * while the statement runs.
 */
typedef struct Statement
{
	int			offset;			/* byte offset of its first token in the
								 * script's sql */
	int			len;			/* byte length of its text, without ';' */
	int			line;			/* line of its first token within the file */
	int			body_offset;	/* DO block or function body: byte offset of
								 * the body in the script's sql, or -1 when
								 * the body is a literal with escapes */
	int			body_len;		/* byte length of that body */
	uint16		tag;			/* CommandTag */
	uint8		kind;			/* StatementKind */
	uint8		top_level;		/* nonzero: runs only outside a transaction
								 * block (see script.c) */
} Statement;

/* A script's statements, in order */
typedef struct StatementList
{
	int			count;
	int			allocated;
	Statement  *items;
} StatementList;

/*
 * Error context naming the file and line being parsed, checked or run.
 * Error positions count characters in sql, the text being parsed or the
 * statement being run (stmt), whose first character is on line; without
 * sql, line is reported as it is.
 */
typedef struct ScriptErrorContext
{
	ErrorContextCallback callback;
	const Script *script;
	const Statement *stmt;
	const char *sql;
	int			line;
	int			reported_line;	/* out: the line the callback last named */
	bool		body_pending;	/* stmt has a function body: see execute.c */
} ScriptErrorContext;

/* script.c */
extern StatementList *script_split(const Script *script);
extern StatementList *script_split_to_run(const Script *script, bool down,
										  bool in_transaction, bool *unwrapped);
/* what script_check() refuses beside what SPI cannot run at all */
typedef enum TransactionCheck
{
	CHECK_NOTHING,				/* runs outside a transaction */
	CHECK_UP_SCRIPT,			/* an up script run in a transaction */
	CHECK_DOWN_SCRIPT			/* a down script run by rollback */
} TransactionCheck;

extern void script_check(const Script *script, const StatementList *statements,
						 TransactionCheck check);
extern List *script_directive_lines(const char *sql, const char *directive);
extern bool script_has_directive(const char *sql, const char *directive);
extern bool script_is_blank(const char *sql);
extern bool script_unwrap(StatementList *statements);
extern bool script_all_top_level(const StatementList *statements);
extern bool script_statement_top_level_only(Node *parsetree);
extern bool script_detaches_concurrently(Node *parsetree);
extern bool script_statement_concurrently(Node *parsetree);
extern int	script_check_line(void);
extern int	script_bom_length(const char *sql);
extern char *script_statement_text(const Script *script, const Statement *stmt);
extern Datum script_text_datum(const Script *script);
extern void script_error_push(ScriptErrorContext *ctx, const Script *script);
extern void script_error_pop(ScriptErrorContext *ctx);
extern int	script_line_at(const Script *script, int offset);
extern int	script_chars_to_bytes(const char *s, int nchars);
typedef int (*CommentLineMatch) (const char *line, int len, void *arg);
extern int	script_find_comment_line(const Script *script, CommentLineMatch match,
									 void *arg, int *offset);

#endif							/* PG_MIGRATE_SCRIPT_H */
