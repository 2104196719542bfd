/*-------------------------------------------------------------------------
 *
 * pg_migrate.c
 *	  The pg_migrate command: run the migrations of a folder on this
 *	  machine (a CI runner, an application's container, a laptop) in a
 *	  database that has the pg_migrate extension, over an ordinary
 *	  connection.
 *
 *	  pg_migrate [connection options] status   [--check] [DIR]
 *	  pg_migrate [connection options] apply    DIR
 *	  pg_migrate [connection options] run      DIR
 *	  pg_migrate [connection options] rollback [--skip-partial] [NAME]
 *	  pg_migrate [connection options] down     [NAME]
 *	  pg_migrate [connection options] capture  DIR NAME
 *	  pg_migrate [connection options] verify   DIR
 *	  pg_migrate [connection options] lint|plan|check DIR
 *	  pg_migrate [connection options] baseline DIR UP_TO
 *	  pg_migrate [connection options] mark-applied|accept DIR NAME
 *	  pg_migrate [connection options] forget|retry NAME
 *
 * With several -d or --targets FILE, status, apply, run, check, lint, plan
 * and verify run against each database (fleet.c).
 *	  pg_migrate [connection options] run --detach DIR
 *	  pg_migrate [connection options] wait | cancel | resume ID
 *	  pg_migrate [connection options] runs
 *	  pg_migrate [connection options] test-db DIR | test-db --drop [--templates]
 *
 * This file reads the command line and puts the steps in order: read the
 * folder (before connecting, so that a wrong path costs no connection),
 * connect, check the extension, send the call.  Reference:
 * doc/pg_migrate-command.md.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>

#include "getopt_long.h"

#include "client.h"

#ifndef PG_MIGRATE_VERSION
#error "PG_MIGRATE_VERSION is set by the Makefile from pg_migrate.control"
#endif

static void usage(void);
static bool usage_error(const char *fmt,...) pg_attribute_printf(1, 2);
static bool parse_options(int argc, char **argv, Options *opts);
static bool parse_arguments(int argc, char **argv, Options *opts);
static int	run_command(PGconn *conn, const Options *opts, const char *files,
						const char *source, const SentFolder *folder);

static void
usage(void)
{
	printf("pg_migrate runs the schema migrations of a folder in a PostgreSQL database\n"
		   "that has the pg_migrate extension. The folder is read here and sent with\n"
		   "the call; the migrations run on the server.\n\n");
	printf("Usage:\n"
		   "  pg_migrate [OPTION]... status [--check] [DIR]\n"
		   "  pg_migrate [OPTION]... apply DIR\n"
		   "  pg_migrate [OPTION]... run DIR\n"
		   "  pg_migrate [OPTION]... rollback [--skip-partial] [NAME]\n"
		   "  pg_migrate [OPTION]... down [NAME]\n"
		   "  pg_migrate [OPTION]... capture DIR NAME\n"
		   "  pg_migrate [OPTION]... verify DIR\n"
		   "  pg_migrate [OPTION]... lint|plan|check DIR\n"
		   "  pg_migrate [OPTION]... baseline DIR UP_TO\n"
		   "  pg_migrate [OPTION]... mark-applied|accept DIR NAME\n"
		   "  pg_migrate [OPTION]... forget|retry NAME\n"
		   "  pg_migrate [OPTION]... wait|cancel|resume ID\n"
		   "  pg_migrate [OPTION]... runs\n"
		   "  pg_migrate [OPTION]... test-db DIR | test-db --drop [--templates]\n\n");
	printf("Commands:\n"
		   "  status     each migration of DIR and of the database, with its state\n"
		   "             (without DIR: what the database recorded)\n"
		   "  apply      apply every pending migration in one transaction: all or nothing\n"
		   "  run        apply pending migrations, committing after each one; migrations\n"
		   "             marked \"-- migrate:no-transaction\" run outside a transaction;\n"
		   "             the server performs the run, which goes on if the command dies\n"
		   "  rollback   undo NAME and every migration applied after it (default: the\n"
		   "             latest one), with the down scripts the database stored\n"
		   "  down       print the down script the database stored for NAME (default:\n"
		   "             the latest migration), written or generated, to review it\n"
		   "  capture    make the DDL run outside migrations (migrate.ddl_log) the next\n"
		   "             migration of DIR, named after NAME, recorded as applied, and\n"
		   "             write its file (drizzle: and the journal entry)\n"
		   "  verify     run each pending migration of DIR, then its down script (written,\n"
		   "             or generated), and compare the schema with the one before; all\n"
		   "             rolled back: nothing is applied\n"
		   "  lint       lint findings of DIR's pending migrations; nothing runs\n"
		   "  plan       test run of DIR's pending migrations, statement by statement,\n"
		   "             with the locks each takes; always rolled back\n"
		   "  check      whether every migration of DIR is applied as it is (exit 3 if not)\n"
		   "  baseline   record DIR's migrations up to UP_TO as applied, running none\n"
		   "  mark-applied  record migration NAME of DIR as applied without running it\n"
		   "  forget     delete NAME's record without running its down script\n"
		   "  accept     record NAME's edited file in DIR as it is now, ending its drift\n"
		   "  retry      let the next apply or run execute NAME again after it failed\n"
		   "  wait       follow run ID to its end, as run does\n"
		   "  cancel     cancel run ID\n"
		   "  resume     run a failed, cancelled or interrupted run ID again, and follow it\n"
		   "  runs       the runs the server performs or performed\n"
		   "  test-db    a new database holding DIR's schema and migration records,\n"
		   "             cloned from a template kept per folder checksum; prints its URL\n"
		   "             (--drop: drop the test databases of the role, --templates: and\n"
		   "             its templates)\n\n");
	printf("Options:\n"
		   "      --server-dir         DIR is a folder on the database server, read there\n"
		   "      --format=FORMAT      auto (default), plain, drizzle, dbmate,\n"
		   "                           golang-migrate, flyway, prisma, goose, sqlx\n"
		   "                           or diesel\n"
		   "      --allow-drift        apply, run: warn about modified or missing applied\n"
		   "                           migrations instead of failing\n"
		   "      --check              status: exit with status 3 when anything is pending,\n"
		   "                           failed, modified or missing\n"
		   "      --skip-partial       rollback: run what generated down scripts do undo,\n"
		   "                           leaving the statements they list as not undone\n"
		   "      --target=NAME        apply, run: up to and including migration NAME\n"
		   "      --targets=FILE       several targets: FILE's connection strings, one a\n"
		   "                           line (with every -d given)\n"
		   "      --parallel=N         several targets: at most N at once (default 1)\n"
		   "      --detach             run: start the run, print its ID and return\n"
		   "      --tenants=LIST       run: in each tenant schema of LIST (a,b,c), tracked\n"
		   "                           per tenant (migrate.start_tenants)\n"
		   "      --tenant-pattern=P   run: in each schema whose name is LIKE P\n"
		   "      --tenant-query=Q     run: in each schema the query Q returns\n"
		   "      --tenant-databases=LIST\n"
		   "                           run: in each database of LIST (a,b,c), with its\n"
		   "                           own tracking tables (migrate.start_tenants)\n"
		   "      --tenant-database-pattern=P\n"
		   "                           run: in each database whose name is LIKE P and\n"
		   "                           that has pg_migrate ('%%': all of them)\n"
		   "      --tenant-workers=N   tenants: N background workers at once (default 1)\n"
		   "      --canary=N           tenants: the first N run first; one failing stops all\n"
		   "      --on-failure=WHAT    tenants: stop (default) or continue after a failure\n"
		   "      --json               print the result rows as JSON\n"
		   "  -q, --quiet              print errors only\n"
		   "  -V, --version            output version information, then exit\n"
		   "  -?, --help               show this help, then exit\n\n");
	printf("Connection options (as psql's; DATABASE_URL is used when -d is not given):\n"
		   "  -d, --dbname=DBNAME      database name, connection string or URI; given\n"
		   "                           more than once, the command runs against each\n"
		   "  -h, --host=HOSTNAME      database server host or socket directory\n"
		   "  -p, --port=PORT          database server port\n"
		   "  -U, --username=USERNAME  database user name\n"
		   "  -w, --no-password        never prompt for password\n"
		   "  -W, --password           force password prompt\n\n");
	printf("Exit status: 0 success; 1 a migration failed, drift was found, verify found\n"
		   "a down script that does not undo its migration, or the server refused the call;\n"
		   "2 usage, connection or file-reading error; 3 status --check or check found\n"
		   "something not applied. Several targets: the highest of theirs.\n");
}

/* Print a usage error the way PostgreSQL's programs do; returns false */
static bool
usage_error(const char *fmt,...)
{
	va_list		args;

	fputs("pg_migrate: error: ", stderr);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fputs("\npg_migrate: hint: Try \"pg_migrate --help\" for more information.\n", stderr);
	return false;
}

/*
 * A count given to an option, whole digits from min to INT_MAX, into *n;
 * false for anything else (a sign, a suffix, nothing, or a number atoi()
 * would wrap around)
 */
static bool
count_arg(const char *s, int min, int *n)
{
	char	   *end;
	long		v;

	if (s[0] == '\0' || strspn(s, "0123456789") != strlen(s))
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > INT_MAX)
		return false;
	*n = (int) v;
	return true;
}

static bool
parse_options(int argc, char **argv, Options *opts)
{
	enum
	{
		OPT_SERVER_DIR = 256, OPT_FORMAT, OPT_ALLOW_DRIFT, OPT_CHECK, OPT_JSON,
		OPT_SKIP_PARTIAL, OPT_TARGET, OPT_TARGETS, OPT_PARALLEL, OPT_DETACH,
		OPT_TENANTS, OPT_TENANT_PATTERN, OPT_TENANT_QUERY, OPT_TENANT_WORKERS,
		OPT_CANARY, OPT_ON_FAILURE, OPT_TENANT_DATABASES,
		OPT_TENANT_DATABASE_PATTERN, OPT_DROP, OPT_TEMPLATES
	};
	static const struct option long_options[] = {
		{"dbname", required_argument, NULL, 'd'},
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"username", required_argument, NULL, 'U'},
		{"no-password", no_argument, NULL, 'w'},
		{"password", no_argument, NULL, 'W'},
		{"quiet", no_argument, NULL, 'q'},
		{"server-dir", no_argument, NULL, OPT_SERVER_DIR},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"allow-drift", no_argument, NULL, OPT_ALLOW_DRIFT},
		{"check", no_argument, NULL, OPT_CHECK},
		{"json", no_argument, NULL, OPT_JSON},
		{"skip-partial", no_argument, NULL, OPT_SKIP_PARTIAL},
		{"target", required_argument, NULL, OPT_TARGET},
		{"targets", required_argument, NULL, OPT_TARGETS},
		{"parallel", required_argument, NULL, OPT_PARALLEL},
		{"detach", no_argument, NULL, OPT_DETACH},
		{"tenants", required_argument, NULL, OPT_TENANTS},
		{"tenant-pattern", required_argument, NULL, OPT_TENANT_PATTERN},
		{"tenant-query", required_argument, NULL, OPT_TENANT_QUERY},
		{"tenant-workers", required_argument, NULL, OPT_TENANT_WORKERS},
		{"tenant-databases", required_argument, NULL, OPT_TENANT_DATABASES},
		{"tenant-database-pattern", required_argument, NULL, OPT_TENANT_DATABASE_PATTERN},
		{"canary", required_argument, NULL, OPT_CANARY},
		{"on-failure", required_argument, NULL, OPT_ON_FAILURE},
		{"drop", no_argument, NULL, OPT_DROP},
		{"templates", no_argument, NULL, OPT_TEMPLATES},
		{NULL, 0, NULL, 0}
	};
	int			c;

	memset(opts, 0, sizeof(Options));
	opts->format = "auto";
	opts->dbnames = pg_malloc0(argc * sizeof(char *));
	while ((c = getopt_long(argc, argv, "d:h:p:U:wWq", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'd':
				opts->dbname = opts->dbnames[opts->ndbnames++] = optarg;
				break;
			case 'h':
				opts->host = optarg;
				break;
			case 'p':
				opts->port = optarg;
				break;
			case 'U':
				opts->user = optarg;
				break;
			case 'w':
				opts->prompt = PROMPT_NEVER;
				break;
			case 'W':
				opts->prompt = PROMPT_ALWAYS;
				break;
			case 'q':
				opts->quiet = true;
				break;
			case OPT_SERVER_DIR:
				opts->server_dir = true;
				break;
			case OPT_FORMAT:
				opts->format = optarg;
				break;
			case OPT_ALLOW_DRIFT:
				opts->allow_drift = true;
				break;
			case OPT_CHECK:
				opts->check = true;
				break;
			case OPT_JSON:
				opts->json = true;
				break;
			case OPT_SKIP_PARTIAL:
				opts->skip_partial = true;
				break;
			case OPT_TARGET:
				opts->target = optarg;
				break;
			case OPT_TARGETS:
				opts->targets_file = optarg;
				break;
			case OPT_PARALLEL:
				if (!count_arg(optarg, 1, &opts->parallel))
					return usage_error("--parallel needs a number of targets of 1 or more, not \"%s\"", optarg);
				break;
			case OPT_DETACH:
				opts->detach = true;
				break;
			case OPT_TENANTS:
				opts->tenants = optarg;
				break;
			case OPT_TENANT_PATTERN:
				opts->tenant_pattern = optarg;
				break;
			case OPT_TENANT_QUERY:
				opts->tenant_query = optarg;
				break;
			case OPT_TENANT_DATABASES:
				opts->tenant_databases = optarg;
				break;
			case OPT_TENANT_DATABASE_PATTERN:
				opts->tenant_database_pattern = optarg;
				break;
			case OPT_TENANT_WORKERS:
				if (!count_arg(optarg, 1, &opts->tenant_workers))
					return usage_error("--tenant-workers needs a number of workers of 1 or more, not \"%s\"", optarg);
				break;
			case OPT_CANARY:
				if (!count_arg(optarg, 0, &opts->canary))
					return usage_error("--canary needs a number of tenants, not \"%s\"", optarg);
				opts->canary_given = true;
				break;
			case OPT_ON_FAILURE:
				if (strcmp(optarg, "stop") != 0 && strcmp(optarg, "continue") != 0)
					return usage_error("--on-failure is stop or continue, not \"%s\"", optarg);
				opts->on_failure = optarg;
				break;
			case OPT_DROP:
				opts->drop = true;
				break;
			case OPT_TEMPLATES:
				opts->templates = true;
				break;
			default:
				/* getopt_long has said what was wrong */
				fputs("pg_migrate: hint: Try \"pg_migrate --help\" for more information.\n", stderr);
				return false;
		}
	}
	return parse_arguments(argc, argv, opts);
}

/* The command and its argument, and the options that go with it */
static bool
parse_arguments(int argc, char **argv, Options *opts)
{
	const char *command;
	bool		is_status;
	bool		is_rollback;
	bool		is_down;
	bool		is_capture;
	bool		is_verify;
	const char *error;

	if (optind >= argc)
		return usage_error("no command given: status, apply, run, rollback, down, capture, verify, lint, plan, check, baseline, mark-applied, forget, accept, retry, wait, cancel, resume, runs or test-db");
	command = opts->command = argv[optind++];
	if (lifecycle_command(command))
	{
		if ((error = lifecycle_arguments(argc, argv, opts)) == NULL)
			error = fleet_arguments(opts);
		return error ? usage_error("%s", error) : true;
	}
	is_status = strcmp(command, "status") == 0;
	is_rollback = strcmp(command, "rollback") == 0;
	is_down = strcmp(command, "down") == 0;
	is_capture = strcmp(command, "capture") == 0;
	is_verify = strcmp(command, "verify") == 0;
	if (opts->detach && strcmp(command, "run") != 0)
		return usage_error("--detach goes with run only");
	if ((opts->drop || opts->templates) && strcmp(command, "test-db") != 0)
		return usage_error("--drop and --templates go with test-db only");
	if (strcmp(command, "test-db") == 0)
	{
		if (optind < argc && !opts->drop)
			opts->dir = argv[optind++];
		if (optind < argc)
			return usage_error("too many arguments: \"%s\"", argv[optind]);
		if (opts->templates && !opts->drop)
			return usage_error("--templates goes with test-db --drop");
		if (opts->drop && (opts->server_dir || strcmp(opts->format, "auto") != 0))
			return usage_error("test-db --drop takes no folder: it drops the role's test databases");
		if (!opts->drop && opts->dir == NULL)
			return usage_error("test-db needs the migrations folder DIR, or --drop");
		if (opts->allow_drift || opts->check || opts->skip_partial || opts->target ||
			opts->tenants || opts->tenant_pattern || opts->tenant_query ||
			opts->tenant_workers || opts->canary_given || opts->on_failure)
			return usage_error("test-db takes no run options");
		if (opts->ndbnames > 1 || opts->targets_file)
			return usage_error("test-db makes a database on one server: give one -d");
		return true;
	}
	if (strcmp(command, "wait") == 0 || strcmp(command, "cancel") == 0 ||
		strcmp(command, "resume") == 0 || strcmp(command, "runs") == 0)
	{
		if (strcmp(command, "runs") != 0 &&
			(optind >= argc || strspn(argv[optind], "0123456789") != strlen(argv[optind]) ||
			 argv[optind][0] == '\0'))
			return usage_error("%s needs the ID of a run (pg_migrate runs lists them)", command);
		if (strcmp(command, "runs") != 0)
			opts->run_id = argv[optind++];
		if (optind < argc)
			return usage_error("too many arguments: \"%s\"", argv[optind]);
		if (opts->server_dir || opts->allow_drift || opts->check || opts->skip_partial ||
			opts->target || strcmp(opts->format, "auto") != 0)
			return usage_error("%s takes no folder options", command);
		if ((error = fleet_arguments(opts)) != NULL)
			return usage_error("%s", error);
		return true;
	}
	if (!is_status && !is_rollback && !is_down && !is_capture && !is_verify &&
		strcmp(command, "apply") != 0 && strcmp(command, "run") != 0)
		return usage_error("unrecognized command \"%s\": status, apply, run, rollback, down, capture, verify, lint, plan, check, baseline, mark-applied, forget, accept, retry, wait, cancel, resume, runs or test-db",
						   command);
	if (optind < argc)
	{
		if (is_rollback || is_down)
			opts->name = argv[optind++];
		else
			opts->dir = argv[optind++];
	}
	if (is_capture)
	{
		if (opts->dir == NULL || optind >= argc)
			return usage_error("capture needs the migrations folder DIR and the NAME of the migration");
		opts->name = argv[optind++];
		if (opts->server_dir)
			return usage_error("capture writes into a folder here: --server-dir does not go with it");
		if (opts->allow_drift || opts->check)
			return usage_error("capture takes no --allow-drift or --check");
	}
	if (optind < argc)
		return usage_error("too many arguments: \"%s\"", argv[optind]);
	if (opts->dir == NULL && !is_status && !is_rollback && !is_down)
		return usage_error("%s needs the migrations folder DIR", command);
	if (opts->check && !is_status)
		return usage_error("--check goes with status only");
	if (opts->allow_drift && (is_status || is_rollback || is_down || is_verify))
		return usage_error("--allow-drift goes with apply and run only");
	if (opts->skip_partial && !is_rollback)
		return usage_error("--skip-partial goes with rollback only");
	if (is_rollback && (opts->server_dir || strcmp(opts->format, "auto") != 0))
		return usage_error("rollback takes no folder: it runs the down scripts the database stored");
	if (is_down && (opts->server_dir || strcmp(opts->format, "auto") != 0))
		return usage_error("down takes no folder: it prints the down script the database stored");
	if (opts->server_dir && opts->dir == NULL)
		return usage_error("--server-dir needs DIR");
	if (opts->target && strcmp(command, "apply") != 0 && strcmp(command, "run") != 0)
		return usage_error("--target goes with apply and run only");
	if (options_tenants(opts) > 0 && strcmp(command, "run") != 0)
		return usage_error("--tenants, --tenant-pattern, --tenant-query, --tenant-databases and --tenant-database-pattern go with run only");
	if (options_tenants(opts) > 1)
		return usage_error("name the tenants one way: --tenants, --tenant-pattern, --tenant-query, --tenant-databases or --tenant-database-pattern");
	if ((opts->tenant_workers || opts->canary_given || opts->on_failure) &&
		options_tenants(opts) == 0)
		return usage_error("--tenant-workers, --canary and --on-failure go with the tenants of run");
	if ((error = fleet_arguments(opts)) != NULL)
		return usage_error("%s", error);
	return true;
}

static int
run_command(PGconn *conn, const Options *opts, const char *files,
			const char *source, const SentFolder *folder)
{
	if (strcmp(opts->command, "status") == 0)
		return command_status(conn, opts, files, source);
	if (strcmp(opts->command, "apply") == 0)
		return command_apply(conn, opts, files, source);
	if (strcmp(opts->command, "run") == 0)
		return command_run(conn, opts, files, source);
	if (strcmp(opts->command, "capture") == 0)
		return command_capture(conn, opts, files, source, folder);
	if (strcmp(opts->command, "down") == 0)
		return command_down(conn, opts);
	if (strcmp(opts->command, "verify") == 0)
		return command_verify(conn, opts, files, source);
	if (lifecycle_command(opts->command))
		return command_lifecycle(conn, opts, files, source);
	if (strcmp(opts->command, "runs") == 0)
		return command_runs(conn, opts);
	if (strcmp(opts->command, "test-db") == 0)
		return command_test_db(conn, opts, files, source);
	if (opts->run_id)
		return command_run_id(conn, opts);
	return command_rollback(conn, opts);
}

/*
 * The command against the one database opts names; folder is DIR read
 * here, or NULL (--server-dir, or no DIR).  fleet.c runs it once per
 * target.
 */
int
target_run(const Options *opts, const SentFolder *folder)
{
	StringInfo	files = NULL;
	PGconn	   *conn;
	int			rc;

	if ((conn = connection_open(opts)) == NULL)
		return EXIT_SETUP;
	if (!connection_check_extension(conn, folder != NULL))
	{
		PQfinish(conn);
		return EXIT_SETUP;
	}
	if (folder)
	{
		files = makeStringInfo();
		if (!folder_to_json(folder, PQclientEncoding(conn), files))
		{
			PQfinish(conn);
			return EXIT_SETUP;
		}
	}

	connection_catch_interrupts(conn);
	rc = run_command(conn, opts, files ? files->data : NULL,
					 folder ? folder_source(folder) : NULL, folder);
	PQfinish(conn);
	return rc;
}

int
main(int argc, char **argv)
{
	Options		opts;
	SentFolder	folder;
	bool		sends_folder;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0))
	{
		usage();
		return EXIT_OK;
	}
	if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0))
	{
		printf("pg_migrate (pg_migrate) %s\n", PG_MIGRATE_VERSION);
		return EXIT_OK;
	}
	if (!parse_options(argc, argv, &opts))
		return EXIT_SETUP;
	output_init(&opts);

	/*
	 * A reader of standard output that goes away (pg_migrate run | head -1)
	 * must not kill the command while its call goes on in the server:
	 * writes then fail instead, and output.c stops printing results.
	 */
	pqsignal(SIGPIPE, SIG_IGN);

	sends_folder = opts.dir != NULL && !opts.server_dir;
	if (sends_folder && !folder_read(opts.dir, &folder))
		return EXIT_SETUP;
	if (opts.ndbnames > 1 || opts.targets_file)
		return fleet_run(&opts, sends_folder ? &folder : NULL);
	return target_run(&opts, sends_folder ? &folder : NULL);
}
