/*-------------------------------------------------------------------------
 *
 * sqitch.c
 *	  Sqitch projects: "sqitch.plan" lists the changes in the order they
 *	  deploy, each with its scripts deploy/<change>.sql, revert/<change>.sql
 *	  (its down script) and verify/<change>.sql (run after the deploy script,
 *	  in its transaction: a failing verify fails the migration; see
 *	  tools/sqitch_table.c, which also reads Sqitch's registry).
 *
 * The plan, as Sqitch parses it: pragmas ("%project=flipr", required;
 * "%syntax-version", "%uri"), then change lines "<name> [<dependencies>]
 * <timestamp> <planner> <<email>> [# note]" and tag lines "@<tag>
 * <timestamp> <planner> <<email>>", with blank and "#" comment lines.  A
 * change's dependencies must come before it in the plan ("change" or
 * "change@tag", "project:change" for this project; other projects' changes
 * and "!conflicts" are Sqitch's to check against its registry).  A change
 * may be reworked: planned again after a tag, its earlier instance's scripts
 * are then "<change>@<tag>.sql", for the first tag after it whose file
 * exists, as Sqitch finds them.  A migration's name is its scripts' name
 * without ".sql" ("users@v1.0", "users"), its version its position in the
 * plan.
 *
 * Only Sqitch's default layout is read (sqitch.plan, deploy/, revert/ and
 * verify/ in the folder, ".sql"): a sqitch.conf that moves them is not.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "formats/formats.h"

#define PLAN_FILE "sqitch.plan"

/* A change line of the plan */
typedef struct PlanChange
{
	char	   *name;
	int			line;
	List	   *requires;		/* of char *, as written */
	List	   *tags;			/* names ("@v1.0") of the tags right after it */
	int			next;			/* the index of its rework, or -1 */
	int			section;		/* tags seen before it */
} PlanChange;

typedef struct Plan
{
	char	   *project;
	PlanChange *changes;
	int			count;
	List	   *tags;			/* "@v1.0", in order */
	List	   *tag_after;		/* int: the count of changes before each tag */
} Plan;

static bool sqitch_claims(const Folder *folder, List *files);
static void sqitch_scan(MigrationSet *set, List *files);

const MigrationFormat sqitch_format = {
	"sqitch", sqitch_claims, sqitch_scan, load_up_down_files
};

static bool
sqitch_claims(const Folder *folder, List *files)
{
	return string_list_member(files, PLAN_FILE);
}

static void
plan_error(const char *dir, int line, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("syntax error in \"%s\" at line %d: %s", PLAN_FILE, line, what),
			 errdetail("Folder \"%s\" is a Sqitch project, whose plan lists its changes.", dir),
			 errhint("Fix the plan as \"sqitch plan\" would show it, or write it with \"sqitch add\" and \"sqitch tag\".")));
}

/* A name as Sqitch's plan allows it, ending at a blank, '[' or the end */
static char *
read_name(char **p)
{
	char	   *start = *p;

	while (**p && !isspace((unsigned char) **p) && **p != '[' &&
		   **p != '@' && **p != ':' && **p != '#')
		(*p)++;
	return pnstrdup(start, *p - start);
}

/* "2024-01-01T12:00:00Z" at p */
static bool
is_timestamp(const char *p)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";

	for (int i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char) p[i]) : p[i] != shape[i])
			return false;
	return true;
}

/* Parse sqitch.plan into plan */
static void
parse_plan(const MigrationSet *set, char *text, Plan *plan)
{
	int			lineno = 0;
	int			allocated = 16;
	char	   *line = text + script_bom_length(text);

	memset(plan, 0, sizeof(Plan));
	plan->changes = palloc(sizeof(PlanChange) * allocated);
	while (line && *line)
	{
		char	   *eol = strchr(line, '\n');
		char	   *p;
		char	   *hash;
		bool		is_tag;
		char	   *name;
		PlanChange *c;

		lineno++;
		if (eol)
			*eol = '\0';
		if (eol && eol > line && eol[-1] == '\r')
			eol[-1] = '\0';
		p = line;
		line = eol ? eol + 1 : NULL;

		/* the note: from the first '#' */
		if ((hash = strchr(p, '#')) != NULL)
			*hash = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			continue;
		if (*p == '%')
		{
			char	   *eq = strchr(p, '=');
			char	   *key;

			if (plan->count > 0)
				plan_error(set->dir, lineno, "pragmas must come before the changes");
			if (eq == NULL)
				continue;
			key = pnstrdup(p + 1, eq - p - 1);
			key = pstrdup(key + strspn(key, " \t"));
			while (*key && isspace((unsigned char) key[strlen(key) - 1]))
				key[strlen(key) - 1] = '\0';
			if (strcmp(key, "project") == 0)
			{
				char	   *v = eq + 1 + strspn(eq + 1, " \t");

				plan->project = pstrdup(v);
				while (*plan->project &&
					   isspace((unsigned char) plan->project[strlen(plan->project) - 1]))
					plan->project[strlen(plan->project) - 1] = '\0';
			}
			continue;
		}

		is_tag = (*p == '@');
		if (is_tag)
			p++;
		else if (*p == '+')
			p += 1 + strspn(p + 1, " \t");
		else if (*p == '-')
			plan_error(set->dir, lineno, "a change planned to be reverted (\"-\") is not supported");
		name = read_name(&p);
		if (name[0] == '\0')
			plan_error(set->dir, lineno, "invalid name; names must not begin with punctuation, contain \"@\", \":\", \"#\", \"\\\", \"[\", \"]\", or blanks");
		p += strspn(p, " \t");

		if (is_tag)
		{
			char	   *tag = psprintf("@%s", name);

			if (plan->count == 0)
				plan_error(set->dir, lineno, psprintf("tag \"%s\" declared without a preceding change", name));
			if (string_list_member(plan->tags, tag))
				plan_error(set->dir, lineno, psprintf("tag \"%s\" duplicates an earlier declaration", name));
			if (!is_timestamp(p))
				plan_error(set->dir, lineno, "missing timestamp");
			plan->tags = lappend(plan->tags, tag);
			plan->tag_after = lappend_int(plan->tag_after, plan->count);
			plan->changes[plan->count - 1].tags =
				lappend(plan->changes[plan->count - 1].tags, tag);
			continue;
		}

		if (plan->count == allocated)
		{
			allocated *= 2;
			plan->changes = repalloc(plan->changes, sizeof(PlanChange) * allocated);
		}
		c = &plan->changes[plan->count];
		memset(c, 0, sizeof(PlanChange));
		c->name = name;
		c->line = lineno;
		c->next = -1;
		c->section = list_length(plan->tags);
		if (*p == '[')
		{
			char	   *close = strchr(p, ']');
			char	   *deps;
			char	   *tok;
			char	   *save;

			if (close == NULL)
				plan_error(set->dir, lineno, "unterminated dependency list");
			deps = pnstrdup(p + 1, close - p - 1);
			for (tok = strtok_r(deps, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
				if (tok[0] != '!')
					c->requires = lappend(c->requires, pstrdup(tok));
			p = close + 1;
			p += strspn(p, " \t");
		}
		if (!is_timestamp(p))
			plan_error(set->dir, lineno, "missing timestamp");

		/* a change planned again: the earlier one is reworked */
		for (int i = plan->count - 1; i >= 0; i--)
		{
			if (strcmp(plan->changes[i].name, name) != 0)
				continue;
			if (plan->changes[i].section == c->section)
				plan_error(set->dir, lineno,
						   psprintf("change \"%s\" duplicates earlier declaration on line %d",
									name, plan->changes[i].line));
			plan->changes[i].next = plan->count;
			break;
		}
		plan->count++;
	}
	if (plan->project == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("missing %%project pragma in \"%s\"", PLAN_FILE),
				 errdetail("Folder \"%s\" is a Sqitch project, whose plan names it.", set->dir),
				 errhint("Add a line \"%%project=<name>\" at the top of the plan, as \"sqitch init\" writes it.")));
}

/*
 * The name of a change's scripts: "<name>", or for a change reworked later
 * "<name>@<tag>", the first of its rework tags (the tags from the rework
 * back to it) whose deploy script exists, else the first.
 */
static char *
script_stem(const MigrationSet *set, const Plan *plan, int i)
{
	const PlanChange *c = &plan->changes[i];
	List	   *rework_tags = NIL;
	ListCell   *lc;

	if (c->next < 0)
		return c->name;
	for (int k = c->next - 1; k >= i; k--)
		rework_tags = list_concat(rework_tags, plan->changes[k].tags);
	foreach(lc, rework_tags)
	{
		char	   *stem = psprintf("%s%s", c->name, (char *) lfirst(lc));

		if (folder_has_file(set->folder, psprintf("deploy/%s.sql", stem)))
			return stem;
	}
	return psprintf("%s%s", c->name, (char *) linitial(rework_tags));
}

/*
 * Sqitch's check of a change's dependencies: each required change of this
 * project is planned before it ("change@tag": before that tag).
 */
static void
check_requires(const MigrationSet *set, const Plan *plan, int i)
{
	const PlanChange *c = &plan->changes[i];
	ListCell   *lc;

	foreach(lc, c->requires)
	{
		char	   *dep = pstrdup(lfirst(lc));
		char	   *colon = strchr(dep, ':');
		char	   *at;
		int			before = i;
		bool		found = false;

		if (colon)
		{
			*colon = '\0';
			if (strcmp(dep, plan->project) != 0)
				continue;		/* another project's */
			dep = colon + 1;
		}
		if (strlen(dep) == 40 && strspn(dep, "0123456789abcdef") == 40)
			continue;			/* a change ID: Sqitch's registry knows */
		if ((at = strchr(dep, '@')) != NULL)
		{
			int			t = list_length(plan->tags);

			for (int k = 0; k < list_length(plan->tags); k++)
				if (strcmp(list_nth(plan->tags, k), at) == 0)
					t = k;
			before = t < list_length(plan->tags) ?
				Min(list_nth_int(plan->tag_after, t), i) : -1;
			*at = '\0';
		}
		for (int k = 0; k < before; k++)
			if (strcmp(plan->changes[k].name, dep) == 0)
				found = true;
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("change \"%s\" requires \"%s\", which is not planned before it",
							c->name, (char *) lfirst(lc)),
					 errdetail("Line %d of \"%s\" in folder \"%s\" plans it; Sqitch deploys a change only after the changes it requires.",
							   c->line, PLAN_FILE, set->dir),
					 errhint("Plan the required change first, or fix the dependency.")));
	}
}

static void
sqitch_scan(MigrationSet *set, List *files)
{
	char	   *text = folder_read_file(set->folder, PLAN_FILE, true);
	Plan		plan;

	if (text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("folder \"%s\" has no Sqitch plan \"%s\"", set->dir, PLAN_FILE),
				 errhint("Pass the Sqitch project's top folder, which holds sqitch.plan, deploy/, revert/ and verify/.")));
	parse_plan(set, text, &plan);

	for (int i = 0; i < plan.count; i++)
	{
		char	   *stem = script_stem(set, &plan, i);
		char	   *deploy = psprintf("deploy/%s.sql", stem);
		char	   *revert = psprintf("revert/%s.sql", stem);
		Migration  *m;

		check_requires(set, &plan, i);
		if (!folder_has_file(set->folder, deploy))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("Sqitch change \"%s\" has no deploy script \"%s\"",
							stem, deploy),
					 errdetail("Line %d of \"%s\" in folder \"%s\" plans it.",
							   plan.changes[i].line, PLAN_FILE, set->dir),
					 errhint("Restore the script, or remove the change from the plan with \"sqitch rework\" or \"sqitch plan\".")));
		m = source_add(set, stem, psprintf("%d", i + 1), deploy);
		if (folder_has_file(set->folder, revert))
			m->down_file = revert;
	}
}

/* The project a Sqitch folder's plan names */
char *
sqitch_project(const MigrationSet *set)
{
	Plan		plan;

	parse_plan(set, folder_read_file(set->folder, PLAN_FILE, false), &plan);
	return plan.project;
}

/* A Sqitch migration's verify script, "verify/<name>.sql" */
char *
sqitch_verify_file(const Migration *m)
{
	return psprintf("verify/%s.sql", m->name);
}
