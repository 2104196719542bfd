/*-------------------------------------------------------------------------
 *
 * client.h
 *	  Types and functions shared between the source files of the pg_migrate
 *	  command: the options of a call, the folder read from the client's
 *	  disk, the connection, and what is printed.
 *
 * The command is a thin client: every migration runs on the server, in
 * migrate.apply(), migrate.run(), migrate.status() or migrate.rollback();
 * the command reads the folder, sends it, and reports.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_MIGRATE_CLIENT_H
#define PG_MIGRATE_CLIENT_H

#include "postgres_fe.h"

#include "libpq-fe.h"
#include "lib/stringinfo.h"

/* Exit statuses, as documented in doc/pg_migrate-command.md */
#define EXIT_OK			0		/* success */
#define EXIT_FAILED		1		/* a migration failed, drift, the server refused */
#define EXIT_SETUP		2		/* usage, connection or file-reading error */
#define EXIT_NOT_READY	3		/* status --check, check: something is not
								 * applied */

/* The lowest extension version that takes a folder sent as data */
#define SENT_FOLDER_VERSION "0.2"

typedef enum PromptMode
{
	PROMPT_WHEN_NEEDED,			/* as psql: when the server asks, on a terminal */
	PROMPT_NEVER,				/* -w */
	PROMPT_ALWAYS				/* -W */
} PromptMode;

typedef struct Options
{
	const char *command;		/* "status", "apply", "run", "rollback",
								 * "down", "capture" or "verify" */
	const char *dir;			/* DIR, or NULL (rollback) */
	const char *name;			/* rollback's and down's NAME, or NULL for
								 * the latest; capture's NAME */
	const char *format;			/* "auto" unless --format */
	bool		server_dir;		/* DIR is a folder on the server */
	bool		check;			/* status --check */
	bool		allow_drift;
	bool		skip_partial;	/* rollback --skip-partial */
	bool		detach;			/* run --detach: start the run, print its id */
	const char *run_id;			/* wait, cancel, resume: the run's ID */
	bool		json;
	bool		quiet;
	const char *target;			/* apply, run: --target NAME, or NULL */
	/* run in tenant schemas: --tenants, --tenant-pattern, --tenant-query */
	const char *tenants;		/* comma-separated schema names */
	const char *tenant_pattern;
	const char *tenant_query;
	/* or in tenant databases: --tenant-databases, --tenant-database-pattern */
	const char *tenant_databases;	/* comma-separated database names */
	const char *tenant_database_pattern;
	int			tenant_workers; /* --tenant-workers N, 0 when not given */
	int			canary;			/* --canary N */
	bool		canary_given;	/* --canary 0 is given too */
	const char *on_failure;		/* --on-failure stop|continue */
	/* connection, as psql's options */
	const char *dbname;
	/* several targets: every -d, and --targets FILE's lines */
	const char **dbnames;
	int			ndbnames;
	const char *targets_file;
	int			parallel;		/* --parallel N, 0 when not given */
	const char *host;
	const char *port;
	const char *user;
	PromptMode	prompt;
	bool		drop;			/* test-db --drop */
	bool		templates;		/* test-db --drop --templates */
} Options;

/* One file of the folder, by its path relative to the folder */
typedef struct SentFile
{
	char	   *path;
	char	   *text;
	size_t		len;
	bool		required;		/* the server reads it: an error if it cannot be sent */
} SentFile;

typedef struct SentFolder
{
	char	   *abspath;		/* the folder, links resolved */
	SentFile   *files;
	int			count;
	int			capacity;
} SentFolder;

/* folder.c */
extern bool folder_read(const char *dir, SentFolder *folder);
extern bool folder_to_json(const SentFolder *folder, int encoding, StringInfo json);
extern char *folder_source(const SentFolder *folder);

/* connection.c */
extern PGconn *connection_open(const Options *opts);
extern bool connection_check_extension(PGconn *conn, bool sends_folder);
extern void connection_catch_interrupts(PGconn *conn);
extern bool connection_was_interrupted(void);
extern char *connection_masked_target(const char *target);

/* commands.c */
extern int	options_tenants(const Options *opts);
extern int	command_status(PGconn *conn, const Options *opts, const char *files,
						   const char *source);
extern int	command_apply(PGconn *conn, const Options *opts, const char *files,
						  const char *source);
extern int	command_run(PGconn *conn, const Options *opts, const char *files,
						const char *source);
extern int	command_rollback(PGconn *conn, const Options *opts);
extern int	command_down(PGconn *conn, const Options *opts);
extern int	command_verify(PGconn *conn, const Options *opts, const char *files,
						   const char *source);
extern PGresult *call_folder(PGconn *conn, const Options *opts, const char *files,
							 const char *source, const char *columns,
							 const char *function, const char *arg);
extern int	call_failed(PGconn *conn, PGresult *res);
extern int	name_width(const PGresult *res);
extern void count_summary(const PGresult *res, int column,
						  const char *const *values, int nvalues,
						  const char *noun, const char *nouns, const char *none);

/* lifecycle.c */
extern bool lifecycle_command(const char *command);
extern const char *lifecycle_arguments(int argc, char **argv, Options *opts);
extern int	command_lifecycle(PGconn *conn, const Options *opts, const char *files,
							  const char *source);

/* fleet.c */
extern bool fleet_command(const char *command);
extern const char *fleet_arguments(Options *opts);
extern int	fleet_run(const Options *opts, const SentFolder *folder);

/* pg_migrate.c */
extern int	target_run(const Options *opts, const SentFolder *folder);

/* commands.c: detached runs */
extern int	command_run_id(PGconn *conn, const Options *opts);
extern int	command_runs(PGconn *conn, const Options *opts);

/* capture.c */
extern int	command_capture(PGconn *conn, const Options *opts, const char *files,
							const char *source, const SentFolder *folder);

/* output.c */
extern int	command_test_db(PGconn *conn, const Options *opts, const char *files,
							const char *source);

extern void output_init(const Options *opts);
extern void output_error(const char *fmt,...) pg_attribute_printf(1, 2);
extern void output_detail(const char *fmt,...) pg_attribute_printf(1, 2);
extern void output_hint(const char *fmt,...) pg_attribute_printf(1, 2);
extern void output_summary(const char *fmt,...) pg_attribute_printf(1, 2);
extern void output_failure_summary(const char *fmt,...) pg_attribute_printf(1, 2);
extern int	output_server_error(PGconn *conn, const PGresult *res);
extern void output_notice(const PGresult *res);
extern void output_progress(const char *what, const char *name);
extern void output_begin_rows(void);
extern void output_migration(const char *name, const char *action, double seconds,
							 const char *tool);
extern void output_down_script(const char *name, const char *down,
							   const char *partial, const char *down_sql);
extern void output_status_row(const char *name, const char *state,
							  const char *applied_at, const char *checksum,
							  const char *down, int name_width);
extern void output_captured(const char *name, const char *path);
extern void output_verify_row(const char *name, const char *result,
							  const char *down, const char *detail,
							  const char *objects, int name_width);
extern void output_run_row(const PGresult *res, int row);
extern void output_end_rows(void);
extern void output_row(const char *name, int name_width, const char *rest,
					   const char *json);
extern void output_target(const char *target, int width, int exit_status,
						  const char *outcome, const char *rows);
extern const char *output_outcome(int exit_status);
extern void json_append_string(StringInfo buf, const char *s, size_t len,
							   int encoding);
extern char *output_duration(double seconds);
extern double output_now(void);

#endif							/* PG_MIGRATE_CLIENT_H */
