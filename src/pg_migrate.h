/*-------------------------------------------------------------------------
 *
 * pg_migrate.h
 *	  Types and functions shared between pg_migrate's source files: the
 *	  in-memory model of a migrations folder, statement splitting and
 *	  execution, and access to the tracking tables.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_MIGRATE_H
#define PG_MIGRATE_H

#include "postgres.h"
#include "common/sha2.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "storage/itemptr.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"
#include "utils/tuplestore.h"

#define MIGRATE_CHECKSUM_LEN (PG_SHA256_DIGEST_LENGTH * 2)

/*
 * One migration as found in a source folder.  Only what is needed to order
 * it and to check it against the tracking table is kept here; the scripts
 * themselves are read by migration_load() when they are needed, so that
 * memory does not grow with the number of migrations.
 */
typedef struct Migration
{
	char	   *name;			/* identity: file stem without up/down suffix */
	char	   *version;		/* leading version, compared part by part */
	char	   *up_file;		/* file name, relative to the folder */
	char	   *down_file;		/* file name, or NULL when there is none */
	char		checksum[MIGRATE_CHECKSUM_LEN + 1]; /* of the up script */
	char		down_checksum[MIGRATE_CHECKSUM_LEN + 1];	/* "" if none; set
															 * when checked */
	bool		no_transaction; /* runs outside a transaction block: set
								 * once its script has been checked */
	bool		marked_no_transaction;	/* by a directive (or dbmate's
										 * transaction:false) */
	bool		repeatable;		/* Flyway R__: re-run when its checksum changes */
	bool		adopted;		/* applied by the format's own tool (its
								 * table says so), not yet recorded */
	int64		created_at;		/* drizzle journal's "when", else 0 */
} Migration;

/*
 * Where a folder's files come from: a folder on the server's disk, or the
 * files the caller sent as data.  Past folder.c and sent_files.c, nothing
 * knows which.
 */
typedef struct Folder
{
	const char *name;			/* named in messages */
	const char *source;			/* recorded as the migrations' source: the
								 * path, or what the caller says; or NULL */
	const char *path;			/* canonical path on the server, or NULL */
	Jsonb	   *files;			/* the files sent, or NULL */
} Folder;

struct MigrationSet;
struct LoadedMigration;
struct ToolInterop;
struct AppliedMigration;

/*
 * A folder format: whether a folder looks like it, how to find its
 * migrations, and how to read one migration's scripts; and, for a format
 * whose tool keeps its own tracking table, how to share that table.
 */
typedef struct MigrationFormat
{
	const char *name;
	bool		(*claims) (const Folder *folder, List *files);
	void		(*scan) (struct MigrationSet *set, List *files);
	void		(*load) (const struct MigrationSet *set, const Migration *m,
						 struct LoadedMigration *out, bool with_down);
	const struct ToolInterop *interop;	/* NULL: the tool keeps no table */
} MigrationFormat;

/* A folder's migrations, sorted by version, then name */
typedef struct MigrationSet
{
	const Folder *folder;
	const char *dir;			/* the folder's name, for messages */
	const MigrationFormat *format;
	int			count;
	Migration  *items;
	Migration **by_name;		/* the same, sorted by name */
	char	   *tool_table;		/* the tool's table that adopted migrations
								 * were found in, qualified, or NULL */
} MigrationSet;

/* A script ready to run: its text and where it came from, for errors */
typedef struct Script
{
	const char *file;			/* file name shown in errors */
	char	   *sql;
	int			first_line;		/* line of sql[0] within the file */
} Script;

/* The scripts of one migration, read from disk */
typedef struct LoadedMigration
{
	Script		up;
	Script		down;			/* down.sql is NULL when there is none */
	bool		no_transaction; /* "-- migrate:no-transaction" directive */
} LoadedMigration;

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

/* Rows returned by apply, run and rollback */
typedef struct ResultSink
{
	Tuplestorestate *store;
	TupleDesc	desc;
} ResultSink;

/* folder.c: folders on the server's disk */
extern Folder *folder_on_disk(const char *dir);
extern List *folder_list_files(const char *dir);
extern char *folder_read_file(const char *dir, const char *file, bool missing_ok);
extern bool folder_has_file(const char *dir, const char *file);

/* sent_files.c: folders sent as data */
extern Folder *folder_sent(Jsonb *files, const char *source);
extern List *sent_list_files(const Folder *folder);
extern char *sent_read_file(const Folder *folder, const char *file, bool missing_ok);
extern bool folder_may_list(void);

/* source.c */
extern MigrationSet *source_load(const Folder *folder, const char *format,
								 int elevel);
extern List *source_list_files(const Folder *folder);
extern char *source_read_file(const Folder *folder, const char *file,
							  bool missing_ok);
extern bool source_has_file(const Folder *folder, const char *file);
extern int	compare_string_cells(const ListCell *a, const ListCell *b);
extern void migration_load(const MigrationSet *set, const Migration *m,
						   LoadedMigration *out, bool with_down);
extern int	version_cmp(const char *a, const char *b);
extern int	migration_order_cmp(bool repeatable_a, const char *version_a,
								const char *name_a, bool repeatable_b,
								const char *version_b, const char *name_b);
extern Migration *source_find(const MigrationSet *set, const char *name);

/* the formats: format_plain.c (plain and golang-migrate), format_dbmate.c,
 * format_flyway.c, format_drizzle.c */
extern const MigrationFormat plain_format;
extern const MigrationFormat golang_format;
extern const MigrationFormat dbmate_format;
extern const MigrationFormat flyway_format;
extern const MigrationFormat drizzle_format;
extern void plain_note_down_file(const struct MigrationSet *set,
								 const Migration *m);

/* format_foreign.c: files of the tools pg_migrate does not read yet */
extern void foreign_check_folder(const Folder *folder, List *files);
extern void foreign_check_script(const struct MigrationSet *set,
								 const Migration *m, const Script *up);

/* source.c: helpers the formats share */
extern Migration *source_add(MigrationSet *set, const char *name,
							 const char *version, const char *up_file);
extern void source_check_unique_versions(const MigrationSet *set);
extern bool is_numbered_sql(const char *file);
extern char *leading_version(const char *name);
extern bool string_list_member(List *list, const char *s);
extern int	count_newlines(const char *s, size_t len);
extern bool strip_suffix(char *s, const char *suffix);
extern void load_script(const MigrationSet *set, const char *file, Script *out);
extern void load_up_down_files(const MigrationSet *set, const Migration *m,
							   LoadedMigration *out, bool with_down);

/*
 * Another tool's tracking table (drizzle-orm's, dbmate's, golang-migrate's,
 * Flyway's), as tool_table.c finds, checks, reads and writes it: the
 * columns pg_migrate uses, and how the tool creates it, for messages.
 */
#define TOOL_MAX_COLUMNS 6

typedef struct ToolColumn
{
	const char *name;
	Oid			type;			/* as the tool creates it */
	Oid			alt_type;		/* also accepted (text for varchar), or
								 * InvalidOid */
} ToolColumn;

typedef struct ToolTableSpec
{
	const char *tool;			/* "golang-migrate", named in messages */
	const char *schema;			/* the tool's default schema, or NULL for
								 * the current schema, as the tool uses */
	const char *name;			/* the tool's default table name */
	const char *definition;		/* "(version bigint ...)" as the tool
								 * creates it, for hints */
	const char *columns_text;	/* "version bigint and dirty boolean" */
	bool		written;		/* pg_migrate writes it, not only reads it */
	int			ncolumns;
	ToolColumn	columns[TOOL_MAX_COLUMNS];
} ToolTableSpec;

/* A tool's table, locked and checked */
typedef struct ToolTable
{
	const ToolTableSpec *spec;
	Relation	rel;
	char	   *qualified;		/* its schema-qualified name, quoted as
								 * needed */
	AttrNumber	attnums[TOOL_MAX_COLUMNS];	/* of spec->columns */
} ToolTable;

/* One of its rows: where it is, and the spec's columns as text */
typedef struct ToolRow
{
	ItemPointerData tid;
	char	   *values[TOOL_MAX_COLUMNS];	/* NULL for a null */
} ToolRow;

/*
 * What a format whose tool keeps its own table does with it.  adopt marks
 * as adopted the migrations of set that the table records as applied and
 * that are not applied already (applied[i]); record and forget write the
 * table as the tool would after m was applied or am rolled back, and say
 * whether they changed it.  Without record and forget, the table is only
 * read.  check, when set, refuses a table the tool itself would not go on
 * with (adopt, record and forget refuse it too): a rollback asks before
 * undoing anything.
 */
typedef void (*tool_table_creator) (const char *schema, const char *name);

typedef struct ToolInterop
{
	const ToolTableSpec *table;
	tool_table_creator create;	/* creates the table when the first apply
								 * finds none, as the tool does; or NULL */
	void		(*adopt) (ToolTable *t, MigrationSet *set, const bool *applied);
	bool		(*record) (ToolTable *t, const MigrationSet *set,
						   const Migration *m);
	bool		(*forget) (ToolTable *t, const struct AppliedMigration *am);
	void		(*check) (ToolTable *t);
} ToolInterop;

/* tool_table.c: the checked table, for the interop hooks */
extern ToolTable *tool_table_open(const ToolTableSpec *spec, bool write,
								  tool_table_creator create);
extern void tool_table_close(ToolTable *t);
extern List *tool_table_rows(ToolTable *t);
extern void tool_table_delete(ToolTable *t, const ToolRow *row);
extern void tool_table_insert(ToolTable *t, int ncolumns, const int *columns,
							  const Oid *types, Datum *values);

/* tool_table.c: what the runner asks of the format's interop */
extern void interop_adopt(MigrationSet *set, const bool *applied);
extern void interop_prepare(const MigrationSet *set);
extern void interop_record(const MigrationSet *set, const Migration *m);
extern void interop_forget(const struct AppliedMigration *am);
extern void interop_check_forget(List *targets);
extern const char *interop_tool(const MigrationSet *set);

/* the formats' interop: drizzle_interop.c, dbmate_interop.c,
 * golang_interop.c, flyway_interop.c */
extern const ToolInterop drizzle_interop;
extern List *drizzle_applied_hashes(void);
extern const ToolInterop dbmate_interop;
extern const ToolInterop golang_interop;
extern const ToolInterop flyway_interop;

/* script.c */
extern StatementList *script_split(const Script *script);
/* what script_check() refuses beside what SPI cannot run at all */
typedef enum TransactionCheck
{
	CHECK_NOTHING,				/* runs outside a transaction */
	CHECK_UP_SCRIPT,			/* an up script run in a transaction */
	CHECK_DOWN_SCRIPT			/* a down script run by rollback */
} TransactionCheck;

extern void script_check(const Script *script, const StatementList *statements,
						 TransactionCheck check);
extern bool script_has_directive(const char *sql, const char *directive);
extern bool script_is_blank(const char *sql);
extern bool script_unwrap(StatementList *statements);
extern bool script_all_top_level(const StatementList *statements);
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
extern void checksum_hex(const char *data, size_t len, char *out);

/* execute.c */
typedef void (*statement_runner) (const Statement *stmt, const char *sql);
extern void execute_script(const Script *script, const StatementList *statements,
						   statement_runner run);
extern void execute_spi_statement(const Statement *stmt, const char *sql);
extern void spi_run(const char *query, int nargs, Oid *types, Datum *values,
					const char *nulls, int expected);
extern List *spi_first_column(void);
extern int	script_error_line;

/* plpgsql_lines.c */
extern void plpgsql_lines_start(void);
extern int	plpgsql_lines_stop(void);

/* indexes.c */
extern List *invalid_indexes(void);
extern List *indexes_left_invalid(const Script *script, List *before);
extern char *drop_index_commands(List *indexes);

/* worker.c */
extern void worker_run_script(const Migration *m, const Script *script,
							  Oid role);
extern bool worker_can_log_in_as(Oid role);

/* lock_retry.c */
extern int	lock_retry_count;
extern bool lock_retry_pause(ErrorData *edata, int attempt);
extern bool lock_retry_pause_or_fail(ErrorData **edata, int attempt);
extern ErrorData *try_in_subtransaction(void (*fn) (void *arg), void *arg);
extern void execute_spi_statement_retrying(const Statement *stmt, const char *sql);

/* pg_migrate.c: settings */
extern int	migrate_lock_timeout;
extern int	migrate_lock_retries;
extern int	migrate_lock_retry_delay;
extern int	migrate_statement_timeout;
extern int	migrate_lint_action;
extern int	migrate_lint_large_table_rows;
extern int	migrate_lint_long_transaction;
extern int	migrate_plan_lock_timeout;
extern int	migrate_plan_max_table_size;

/* what migrate.lint makes of a finding in apply and run */
typedef enum LintAction
{
	LINT_OFF,
	LINT_WARNING,
	LINT_ERROR
} LintAction;
extern char *migrate_allowed_directories;
extern bool migrate_allowed_directories_rejected;
extern char *migrate_tool_table;

/* tracking.c */
typedef struct AppliedMigration
{
	char	   *name;
	char	   *version;
	char	   *checksum;
	TimestampTz applied_at;
	bool		has_down;
	bool		repeatable;
	char	   *format;			/* format of the folder it came from */
	char	   *down_sql;		/* only from tracking_rollback_targets() and
								 * tracking_find() */
	char	   *applied_by;		/* likewise */
	char	   *up_sql;			/* only from tracking_find() */
	bool		no_transaction; /* only from tracking_find() */
	char	   *source;			/* only from tracking_rollback_targets() and
								 * tracking_forget() */
} AppliedMigration;

extern List *tracking_applied(void);
extern List *tracking_rollback_targets(const char *name);
extern void tracking_record_apply(const MigrationSet *set, const Migration *m,
								  const LoadedMigration *lm,
								  const char *checksum, int64 duration_us,
								  const char *action);
extern void tracking_record_adopt(const MigrationSet *set, const Migration *m,
								  const LoadedMigration *lm);
extern void tracking_record_tool(const char *action, const char *name,
								 const char *source, const char *checksum,
								 const char *tool_table);
extern void tracking_record_rollback(const char *name, int64 duration_us,
									 const char *caller, const char *ran_as);
extern void tracking_check_snapshot(const char *function);
extern void tracking_record_failure(const MigrationSet *set, const Migration *m,
									ErrorData *edata);
/* A migration whose latest attempt failed */
typedef struct FailedMigration
{
	char	   *name;
	char	   *checksum;		/* of the script that failed, or NULL */
	char	   *sqlstate;
	char	   *message;
	char	   *file;
	int			line;			/* 0 when unknown */
	TimestampTz failed_at;
	int			attempts;		/* failures in a row */
	bool		refusal_logged; /* a run refused it since */
} FailedMigration;

extern List *tracking_failures(void);
extern void tracking_record_action(const char *action, const char *name,
								   const char *checksum);
extern AppliedMigration *tracking_find(const char *name);
extern void tracking_record_accept(const MigrationSet *set, const Migration *m,
								   const LoadedMigration *lm,
								   const char *old_checksum);
extern AppliedMigration *tracking_forget(const char *name);
struct LintFinding;
extern void tracking_record_lint_allowed(const Migration *m, const char *file,
										 const struct LintFinding *f);

/* checks.c */
typedef struct CheckProblem
{
	const char *file;
	int			line;			/* 0 when unknown */
	ErrorData  *edata;
} CheckProblem;

extern void check_drift(const MigrationSet *set, List *applied, bool allow_drift);
extern StatementList *split_script(const Script *script, bool down,
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

/* runner.c: one row of migrate.status() */
typedef struct StatusRow
{
	const char *name;
	const char *version;
	const char *state;			/* pending, failed, applied, modified, missing */
	TimestampTz applied_at;
	bool		applied;
	const char *checksum;
	bool		repeatable;
} StatusRow;
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
						 const StatementList *stmts);
extern void run_lint(const Folder *folder, const char *format,
					 ResultSink *sink);

/* plan.c */
extern void run_plan(const Folder *folder, const char *format,
					 ResultSink *sink);

/* runner.c */
typedef struct RunOptions
{
	const char *format;
	bool		allow_drift;
	const char *target;			/* stop after this migration, or NULL */
	bool		retry;			/* run again what failed with the same file */
} RunOptions;

extern StatusRow *status_rows(const Folder *folder, const char *format,
							  int *count);
extern void run_apply(const Folder *folder, const RunOptions *opts,
					  ResultSink *sink);
extern void run_rollback(const char *name, ResultSink *sink);
extern void run_status(const Folder *folder, const char *format,
					   ResultSink *sink);
extern void run_commits(const Folder *folder, const RunOptions *opts);
extern void run_rollback_commits(const char *name);
extern void run_retry(const char *name);
extern bool *applied_flags(MigrationSet *set, List *applied);

/* lifecycle.c */
extern void lifecycle_mark_applied(const Folder *folder, const char *format,
								   const char *name, ResultSink *sink);
extern void lifecycle_baseline(const Folder *folder, const char *format,
							   const char *up_to, ResultSink *sink);
extern void lifecycle_forget(const char *name, ResultSink *sink);
extern void lifecycle_accept(const Folder *folder, const char *format,
							 const char *name, ResultSink *sink);
extern void lifecycle_check(const Folder *folder, const char *format);

/* run_lock.c: the lock that serialises runs on one database */
extern void take_run_lock(bool session);
extern void release_run_lock(void);

/* worker.c: how pg_stat_activity and the run lock know our workers */
#define MIGRATE_WORKER_TYPE "pg_migrate worker"

/*
 * SQLSTATEs of the messages the runner raises for clients (the pg_migrate
 * command) at DEBUG1, which psql does not show by default: class 00
 * (successful completion) with subclasses of our own.  A client tells them
 * by SQLSTATE and finds what they are about verbatim in the detail; neither
 * is translated.
 */
#define ERRCODE_MIGRATE_COMMITTED	MAKE_SQLSTATE('0','0','M','0','1')	/* run committed an applied migration: detail is its name */
#define ERRCODE_MIGRATE_ADOPTED		MAKE_SQLSTATE('0','0','M','0','2')	/* run committed an adopted one: detail is its name */
#define ERRCODE_MIGRATE_TOOL		MAKE_SQLSTATE('0','0','M','0','3')	/* the folder's tool applied what is adopted: detail is its name */

#endif							/* PG_MIGRATE_H */
