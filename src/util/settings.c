/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  The migrate.* settings: their variables, read by every layer, and
 *	  their definitions, which the module's entry point makes at load.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/parallel.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/varlena.h"

#include "util/compat.h"
#include "util/util.h"

#define ALLOWED_DIRECTORIES "migrate.allowed_directories"
#define DDL_POLICY "migrate.ddl_policy"

/*
 * Safe by default (0.5): a migration's statements wait at most a second
 * for a lock, unless the session has a lock_timeout of its own (see
 * migrate_lock_timeout_in_force); 0 leaves the session's lock_timeout in
 * force.  statement_timeout is the session's unless set.
 */
#define DEFAULT_LOCK_TIMEOUT 1000
int			migrate_lock_timeout = DEFAULT_LOCK_TIMEOUT;
int			migrate_statement_timeout = 0;

/*
 * retries of a statement (or run()'s migration) that timed out on a lock,
 * and the time after which no retry starts (ms, 0 without limit)
 */
int			migrate_lock_retries = 30;
int			migrate_lock_retry_delay = 500;
int			migrate_lock_retry_max_time = 5 * 60 * 1000;
/* what a lint finding does in apply and run; the lint rules' thresholds */
int			migrate_lint_action = LINT_WARNING;
int			migrate_lint_large_table_rows = 1000000;
int			migrate_lint_long_transaction = 60000;
/* migrate.plan(): its lock timeout, and the largest table it runs on (kB) */
int			migrate_plan_lock_timeout = 1000;
int			migrate_plan_max_table_size = 100 * 1024;
/* down scripts generated for migrations that have none */
bool		migrate_generate_down = true;
/*
 * the data a migration drops, kept for the generated down script: whether,
 * up to what size of one table or column (kB, -1 without limit), and for
 * how long (minutes, 0 until purged)
 */
bool		migrate_archive_dropped = true;
char	   *migrate_tenant = NULL;
int			migrate_archive_max_size = 1024 * 1024;
int			migrate_archive_retention = 30 * 24 * 60;

static const struct config_enum_entry lint_options[] = {
	{"off", LINT_OFF, false},
	{"warning", LINT_WARNING, false},
	{"error", LINT_ERROR, false},
	{NULL, 0, false}
};

/*
 * The DDL log: what DDL made outside any migration meets (superuser-only,
 * so that the roles it watches cannot turn it off), the superuser's way
 * past a block, and how long rows are kept (minutes; 0 keeps them all)
 */
int			migrate_ddl_policy = DDL_POLICY_RECORD;
bool		migrate_ddl_policy_rejected = false;	/* see define_ddl_policy */
bool		migrate_allow_out_of_band_ddl = false;
int			migrate_ddl_log_retention = 0;
int			migrate_test_database_pool = 0;
int			migrate_test_database_templates_keep = 2;

static const struct config_enum_entry ddl_policy_options[] = {
	{"off", DDL_POLICY_OFF, false},
	{"record", DDL_POLICY_RECORD, false},
	{"warn", DDL_POLICY_WARN, false},
	{"block", DDL_POLICY_BLOCK, false},
	{NULL, 0, false}
};

/* empty: any folder the caller may read; else only folders below these */
char	   *migrate_allowed_directories = NULL;

/* a value set for this session was refused: see define_allowed_directories */
bool		migrate_allowed_directories_rejected = false;

/* empty: the tool's own table where the tool keeps it (see tool_table.c) */
char	   *migrate_tool_table = NULL;

/* What a session had set for a parameter, and how */
typedef struct SettingState
{
	bool		present;
	char	   *value;			/* strings only: NULL for other types */
	GucSource	source;
	char	   *reset_val;		/* NULL when there is none, or not a string */
	GucSource	reset_source;
	int			depth;			/* stacked values: SET LOCAL, SET clauses */
} SettingState;

static void read_setting_state(const char *name, SettingState *state);
static bool setting_refused(const SettingState *before,
							const SettingState *after);
static void define_allowed_directories(void);
static void define_ddl_policy(void);
static bool check_tool_table(char **newval, void **extra, GucSource source);

static void
read_setting_state(const char *name, SettingState *state)
{
	struct config_generic *gen = compat_find_guc(name);
	struct config_string *conf = (struct config_string *) gen;

	memset(state, 0, sizeof(SettingState));
	if (gen == NULL)
		return;
	state->present = true;
	state->source = gen->source;
	state->reset_source = gen->reset_source;
	for (GucStack *stack = gen->stack; stack != NULL; stack = stack->prev)
		state->depth++;

	/*
	 * A placeholder is a string.  A value spelt another way once parsed
	 * ("BLOCK", "true") may read differently as an enum or a bool: their
	 * values are not compared, only where they came from.
	 */
	if (gen->vartype != PGC_STRING)
		return;
	state->value = pstrdup(*conf->variable ? *conf->variable : "");
	state->reset_val = conf->reset_val ? pstrdup(conf->reset_val) : NULL;
}

/*
 * Whether a value the placeholder held was refused when the parameter was
 * defined (see define_allowed_directories): where the current and reset
 * values came from, the number of stacked values, and for strings the
 * values themselves must all have survived.
 */
static bool
setting_refused(const SettingState *before, const SettingState *after)
{
	bool		strings = after->present && after->value != NULL;

	if (!before->present)
		return false;
	return !after->present ||
		(strings && strcmp(before->value, after->value) != 0) ||
		before->source != after->source ||
		before->depth != after->depth ||
		(before->reset_val != NULL &&
		 (before->reset_source != after->reset_source ||
		  (strings && (after->reset_val == NULL ||
					   strcmp(before->reset_val, after->reset_val) != 0))));
}

/*
 * migrate.allowed_directories is PGC_SUSET, but a session can give it a
 * value before this module is loaded: a connection option (-c), SET,
 * set_config(), a function's SET clause.  PostgreSQL keeps such values in a
 * placeholder and, when the module defines the parameter, applies them again
 * with the privileges of the role that set them, refusing with a mere
 * WARNING those that role may not set.  A refused value does not simply
 * vanish: a connection option also replaced the placeholder's reset value,
 * so the value from postgresql.conf or ALTER SYSTEM is lost and the
 * parameter falls back to its built-in empty default, which allows every
 * folder.  What the administrator meant for this session can no longer be
 * known, so a session in which any value was refused reads no folder at all
 * (disk.c refuses while migrate_allowed_directories_rejected is set; it
 * stays set for the session's life, as RESET would go back to the lost
 * value).
 *
 * Refusals are found by comparing the placeholder with the parameter once
 * defined: the reset value, the current value, their sources and the number
 * of stacked values must all have survived.  Values alone would not do: a
 * refused empty value equals the default.  A value that survived is one its
 * setter was entitled to: a superuser's, postgresql.conf's (ALTER SYSTEM
 * writes there), ALTER ROLE/DATABASE ... SET (stored only by a superuser or
 * a role granted SET on the parameter, and applied as such), or from a role
 * granted SET ON PARAMETER (PostgreSQL 15+), which may loosen it by design.
 * A refused value at a stacked level would fall back to the level below,
 * which is itself legitimate, but it is a refusal all the same and is
 * treated alike rather than reasoned about.
 *
 * Once the parameter is defined, the server refuses such assignments itself,
 * with an error.  With pg_migrate in shared_preload_libraries it is defined
 * before any session starts, so no placeholder ever exists and a connection
 * option a role may not set fails the connection.
 */
static void
define_allowed_directories(void)
{
	SettingState before;
	SettingState after;

	read_setting_state(ALLOWED_DIRECTORIES, &before);

	DefineCustomStringVariable(ALLOWED_DIRECTORIES,
							   "Folders below which migrations may be read.",
							   "A comma-separated list of absolute paths; empty allows any folder the caller may read.",
							   &migrate_allowed_directories,
							   "",
							   PGC_SUSET,
							   GUC_LIST_INPUT,
							   NULL, NULL, NULL);

	read_setting_state(ALLOWED_DIRECTORIES, &after);
	if (setting_refused(&before, &after))
		migrate_allowed_directories_rejected = true;
}

/*
 * migrate.ddl_policy is superuser-only, as the roles it watches must not
 * turn it off; a session that gave it a value it may not set before the
 * module was loaded (PGOPTIONS='-c migrate.ddl_policy=off') would, as for
 * migrate.allowed_directories, lose what the administrator set and fall
 * back to the built-in default.  Such a session gets the strictest policy,
 * block, rather than a policy nobody chose.  migrate.allow_out_of_band_ddl
 * falls back to off, which is safe as it is.
 */
static void
define_ddl_policy(void)
{
	SettingState before;
	SettingState after;

	read_setting_state(DDL_POLICY, &before);
	DefineCustomEnumVariable(DDL_POLICY,
							 "What DDL made outside any migration meets.",
							 "record: logged in migrate.ddl_log; warn: logged, with a WARNING; block: refused; off: DDL is not logged at all.",
							 &migrate_ddl_policy,
							 DDL_POLICY_RECORD,
							 ddl_policy_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	read_setting_state(DDL_POLICY, &after);
	if (setting_refused(&before, &after))
		migrate_ddl_policy_rejected = true;
}

/*
 * Breaking glass is itself logged: when a session turns
 * migrate.allow_out_of_band_ddl on (SET, a role's or database's setting, a
 * function's SET clause, the server's configuration), a LOG line in the
 * server log names the session user and the current role (as the log's
 * rows do), and then every change it lets through is a row of
 * migrate.ddl_log with break_glass set.  An assign hook must not fail,
 * and may run outside a transaction (a reload of the configuration, the
 * end of a transaction) or outside any session (the postmaster), where no
 * role can be named: the line then names none, and the log line's prefix
 * says which process it is.  Parallel workers take the leader's value,
 * which the leader has logged already.
 */
static void
assign_allow_out_of_band_ddl(bool newval, void *extra)
{
	Oid			current;
	int			sec_context;
	const char *login = NULL;
	const char *role = NULL;

	if (!newval || migrate_allow_out_of_band_ddl || IsParallelWorker())
		return;
	/* unlike GetUserId(), never asserts that there is a user */
	GetUserIdAndSecContext(&current, &sec_context);
	if (IsTransactionState() && OidIsValid(current))
	{
		login = GetUserNameFromId(GetSessionUserId(), true);
		role = GetUserNameFromId(current, true);
	}
	if (login && role)
		ereport(LOG,
				(errmsg("migrate.allow_out_of_band_ddl turned on: this session may change the schema outside migrations"),
				 errdetail("Session user \"%s\", current role \"%s\"; each change it makes outside migrations is logged in migrate.ddl_log with break_glass set.",
						   login, role)));
	else
		ereport(LOG,
				(errmsg("migrate.allow_out_of_band_ddl turned on: this process may change the schema outside migrations"),
				 errdetail("Each change it makes outside migrations is logged in migrate.ddl_log with break_glass set.")));
}

/* migrate.tool_table: empty, or a table name, qualified or not */
static bool
check_tool_table(char **newval, void **extra, GucSource source)
{
	char	   *raw;
	List	   *names;
	bool		ok;

	if (**newval == '\0')
		return true;
	raw = pstrdup(*newval);
	ok = SplitIdentifierString(raw, '.', &names) &&
		list_length(names) >= 1 && list_length(names) <= 2;
	list_free(names);
	pfree(raw);
	if (!ok)
		GUC_check_errdetail("It must be a table name, optionally qualified by its schema, such as \"app.schema_migrations\".");
	return ok;
}

/*
 * The lock_timeout a migration's statements run with (ms), or 0 to leave
 * the session's own in force.  A migrate.lock_timeout that was set (SET,
 * a role's or database's setting, the server's configuration: any source
 * but the built-in default) is taken as it is, as before 0.5.  The
 * built-in default gives way to a lock_timeout the session has (its own
 * built-in default is 0, so someone set it): that one is honoured, as
 * before 0.5.  *defaulted, when not NULL, says whether the timeout
 * returned is the built-in default, which the statements that must not
 * be cut short (CONCURRENTLY, see worker.c) do without.
 */
int
migrate_lock_timeout_in_force(bool *defaulted)
{
	struct config_generic *gen = compat_find_guc("migrate.lock_timeout");
	bool		set = gen != NULL && gen->source != PGC_S_DEFAULT;
	int			timeout = (set || LockTimeout == 0) ? migrate_lock_timeout : 0;

	if (defaulted)
		*defaulted = !set && timeout > 0;
	return timeout;
}

/* Define the settings; called once, when the module is loaded */
void
settings_define(void)
{
	DefineCustomIntVariable("migrate.lock_timeout",
							"Longest wait for a lock by any migration statement.",
							"Zero leaves the session's own lock_timeout in force; so does the default when the session has one.  CONCURRENTLY statements wait without limit unless this is set.",
							&migrate_lock_timeout,
							DEFAULT_LOCK_TIMEOUT, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.statement_timeout",
							"Longest run time of any migration statement.",
							"Zero leaves the session's own statement_timeout in force.",
							&migrate_statement_timeout,
							0, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.lock_retries",
							"Retries of a migration statement that could not get its lock in time.",
							"run() retries the whole migration, apply() and rollback() the statement; zero retries nothing.",
							&migrate_lock_retries,
							30, 0, 1000,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.lock_retry_delay",
							"Pause before the first lock retry; it doubles at each retry, with jitter.",
							NULL,
							&migrate_lock_retry_delay,
							500, 1, 30000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.lock_retry_max_time",
							"Time after the first attempt past which a statement or migration that could not get its lock is not retried.",
							"The run then fails, naming the file, line and table; zero limits only the number of retries.",
							&migrate_lock_retry_max_time,
							5 * 60 * 1000, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("migrate.lint",
							 "What a lint finding does in migrate.apply() and migrate.run().",
							 "off: nothing; warning: a WARNING per finding; error: the run refuses before anything runs.",
							 &migrate_lint_action,
							 LINT_WARNING,
							 lint_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.lint_large_table_rows",
							"Estimated rows above which lint calls a table large.",
							"Index builds, VACUUM FULL, CLUSTER and REFRESH MATERIALIZED VIEW on a larger table are findings.",
							&migrate_lint_large_table_rows,
							1000000, 0, INT_MAX,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.lint_long_transaction",
							"Age above which an open transaction holding a lock on a table a migration locks is a lint finding.",
							NULL,
							&migrate_lint_long_transaction,
							60000, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.plan_lock_timeout",
							"Longest wait for a lock by a statement of migrate.plan().",
							"Zero uses migrate.lock_timeout, or the session's lock_timeout when that is zero too.",
							&migrate_plan_lock_timeout,
							1000, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.plan_max_table_size",
							"Size above which migrate.plan() does not execute a statement on a table.",
							"The table's size with its indexes and TOAST; -1 executes statements on tables of any size.",
							&migrate_plan_max_table_size,
							100 * 1024, -1, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	define_allowed_directories();

	DefineCustomStringVariable("migrate.tenant",
							   "The tenant whose migrations the tracking tables are read and written for.",
							   "A schema name: its migrations are tracked apart from the database's own (empty) and every other tenant's. migrate.run_tenants() sets it for each tenant; SELECT migrate.use_tenant('name') sets it with the tenant's search_path.",
							   &migrate_tenant,
							   "",
							   PGC_USERSET,
							   GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("migrate.tool_table",
							   "The table in which the migrations folder's own tool records what it applied.",
							   "Empty means the tool's default: drizzle.__drizzle_migrations, or schema_migrations, flyway_schema_history, _prisma_migrations, goose_db_version, _sqlx_migrations or __diesel_schema_migrations in the current schema.",
							   &migrate_tool_table,
							   "",
							   PGC_USERSET,
							   0,
							   check_tool_table, NULL, NULL);

	define_ddl_policy();

	DefineCustomBoolVariable("migrate.allow_out_of_band_ddl",
							 "Lets this session change the schema outside migrations whatever migrate.ddl_policy says.",
							 "Each change it lets through is logged in migrate.ddl_log with break_glass set.",
							 &migrate_allow_out_of_band_ddl,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, assign_allow_out_of_band_ddl, NULL);

	DefineCustomIntVariable("migrate.ddl_log_retention",
							"How long rows of migrate.ddl_log are kept.",
							"Older rows are deleted when migrate.apply() or migrate.run() starts; zero keeps every row.",
							&migrate_ddl_log_retention,
							0, 0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("migrate.generate_down",
							 "Generates a down script, as it runs, for a migration that has none.",
							 "The generated script is stored like a written one and run by migrate.rollback().",
							 &migrate_generate_down,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("migrate.archive_dropped",
							 "Keeps the rows of a table and the values of a column that a migration drops, for its generated down script.",
							 "They are copied into the schema migrate_archive before the drop.",
							 &migrate_archive_dropped,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.archive_max_size",
							"Largest table or column a migration may drop while its data is kept.",
							"A larger one fails the migration until this is raised or migrate.archive_dropped is turned off; -1 keeps data of any size.",
							&migrate_archive_max_size,
							1024 * 1024, -1, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.archive_retention",
							"How long the data a migration dropped is kept.",
							"Older archives are dropped when migrate.apply() or migrate.run() starts, or by migrate.purge_archive(); zero keeps them until purged.",
							&migrate_archive_retention,
							30 * 24 * 60, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.test_database_pool",
							"Test databases kept ready per template by migrate.test_database().",
							"A call hands one out at once and a background worker makes another; zero clones each one when asked.",
							&migrate_test_database_pool,
							0, 0, 100,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.test_database_templates_keep",
							"Templates of one folder migrate.test_database() keeps when the folder changes.",
							"The newest are kept; older ones, and the test databases waiting in their pools, are dropped when a new one is built.",
							&migrate_test_database_templates_keep,
							2, 1, 1000,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("migrate");
}
