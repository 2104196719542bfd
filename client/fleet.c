/*-------------------------------------------------------------------------
 *
 * fleet.c
 *	  The pg_migrate command against several databases at once: every -d
 *	  given, and the connection strings of --targets FILE, at most
 *	  --parallel N of them at a time, reported as one line per target and
 *	  a summary.
 *
 * Each target runs in a child process of its own (fork), which does
 * exactly what the command does against one database (target_run()), its
 * standard output and error captured in temporary files, and writes the
 * one line that says what came of it (output_outcome()) into a third.
 * Processes rather than libpq's asynchronous API, because the command's
 * calls are synchronous throughout (the notice receiver that follows a
 * run, the cancel on Ctrl-C, the output's state are per process): a
 * child is the one-target command unchanged, and one target that blocks
 * or crashes cannot stall or take down the others.  Files rather than
 * pipes, so that a child never blocks on a full pipe while the parent
 * waits for another.
 *
 * The children run in process groups of their own, so that Ctrl-C at a
 * terminal reaches the parent only, which passes SIGINT (or SIGTERM) on
 * to each child running once, as the single-target command receives it:
 * each cancels its call.  Targets not started by then are not started.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"

typedef struct Target
{
	const char *conninfo;		/* as given */
	char	   *shown;			/* with its password masked */
	volatile pid_t pid;			/* its child while it runs, else 0 */
	FILE	   *out;			/* what the child printed on stdout */
	FILE	   *err;			/* ... on stderr */
	FILE	   *outcome;		/* ... as its outcome */
	bool		done;
	int			status;			/* its exit status, once done */
	char	   *result;			/* its outcome, once done */
	char	   *rows;			/* --json: its array, or NULL */
	char	   *errors;			/* what it wrote on stderr, once done */
} Target;

/* The commands that run against several targets */
static const char *const fleet_commands[] = {
	"status", "apply", "run", "check", "lint", "plan", "verify"
};

static Target *targets;
static int	ntargets;
static volatile sig_atomic_t fleet_interrupted = 0;

static const char *read_targets_file(Options *opts);
static void forward_signal(SIGNAL_ARGS);
static void start_target(const Options *opts, const SentFolder *folder, Target *t);
static void child_main(const Options *opts, const SentFolder *folder, Target *t);
static char *read_all(FILE *f);
static void finish_target(Target *t, int wstatus);
static void print_target(const Target *t, int width);

bool
fleet_command(const char *command)
{
	for (int i = 0; i < lengthof(fleet_commands); i++)
		if (strcmp(command, fleet_commands[i]) == 0)
			return true;
	return false;
}

/*
 * --targets FILE: one connection string (or database name, or URI) a
 * line, appended to the -d given; blank lines and lines starting with #
 * are skipped.  Returns NULL, or what is wrong.
 */
static const char *
read_targets_file(Options *opts)
{
	FILE	   *f = fopen(opts->targets_file, "r");
	StringInfoData line;
	int			c;

	if (f == NULL)
		return psprintf("could not open targets file \"%s\": %s",
						opts->targets_file, strerror(errno));
	initStringInfo(&line);
	do
	{
		c = getc(f);
		if (c != '\n' && c != EOF)
		{
			appendStringInfoChar(&line, (char) c);
			continue;
		}
		/* trimmed of the spaces around it, and of a CR */
		while (line.len > 0 && isspace((unsigned char) line.data[line.len - 1]))
			line.data[--line.len] = '\0';
		{
			const char *s = line.data + strspn(line.data, " \t");

			if (s[0] != '\0' && s[0] != '#')
			{
				opts->dbnames = pg_realloc(opts->dbnames,
										   (opts->ndbnames + 1) * sizeof(char *));
				opts->dbnames[opts->ndbnames++] = pg_strdup(s);
			}
		}
		resetStringInfo(&line);
	} while (c != EOF);
	if (ferror(f))
		return psprintf("could not read targets file \"%s\": %s",
						opts->targets_file, strerror(errno));
	fclose(f);
	pfree(line.data);
	if (opts->ndbnames == 0)
		return psprintf("targets file \"%s\" names no database", opts->targets_file);
	return NULL;
}

/*
 * After the command line is read: the targets, and whether the command
 * and options go with several.  Returns NULL, or what is wrong (a usage
 * error).
 */
const char *
fleet_arguments(Options *opts)
{
	const char *error;

	if (opts->targets_file && (error = read_targets_file(opts)) != NULL)
		return error;
	if (opts->ndbnames <= 1 && opts->targets_file == NULL)
	{
		if (opts->parallel)
			return "--parallel goes with several targets (-d given more than once, or --targets)";
		return NULL;
	}
	if (!fleet_command(opts->command))
		return psprintf("%s runs against one database: several -d or --targets go with status, apply, run, check, lint, plan and verify only",
						opts->command);
	if (opts->prompt == PROMPT_ALWAYS)
		return "-W does not go with several targets: give the passwords in PGPASSWORD, the password file or the connection strings";
	if (opts->parallel == 0)
		opts->parallel = 1;
	return NULL;
}

/* Ctrl-C or SIGTERM: passed on to each child running; none is started */
static void
forward_signal(SIGNAL_ARGS)
{
	int			save_errno = errno;

	fleet_interrupted = 1;
	for (int i = 0; i < ntargets; i++)
		if (targets[i].pid > 0)
			kill(targets[i].pid, postgres_signal_arg);
	errno = save_errno;
}

/* The child of one target: the command against it, as if alone */
static void
child_main(const Options *opts, const SentFolder *folder, Target *t)
{
	Options		one = *opts;
	sigset_t	none;
	int			devnull = open("/dev/null", O_RDONLY);
	int			rc;

	pqsignal(SIGINT, SIG_DFL);
	pqsignal(SIGTERM, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	(void) setpgid(0, 0);

	/* no password prompt: several children cannot share a terminal */
	if (devnull >= 0)
		dup2(devnull, STDIN_FILENO);
	dup2(fileno(t->out), STDOUT_FILENO);
	dup2(fileno(t->err), STDERR_FILENO);

	one.dbname = t->conninfo;
	one.dbnames = NULL;
	one.ndbnames = 0;
	one.targets_file = NULL;
	output_init(&one);
	rc = target_run(&one, folder);
	fputs(output_outcome(rc), t->outcome);
	fflush(NULL);
	_exit(rc);
}

static void
start_target(const Options *opts, const SentFolder *folder, Target *t)
{
	sigset_t	block,
				old;
	pid_t		pid;

	t->out = tmpfile();
	t->err = tmpfile();
	t->outcome = tmpfile();
	if (t->out == NULL || t->err == NULL || t->outcome == NULL)
	{
		t->status = EXIT_SETUP;
		t->result = psprintf("could not create a temporary file: %s", strerror(errno));
		t->done = true;
		return;
	}
	fflush(NULL);

	/* the pid is known to the signal handler before a signal is taken */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	pid = fork();
	if (pid == 0)
		child_main(opts, folder, t);
	if (pid < 0)
	{
		t->status = EXIT_SETUP;
		t->result = psprintf("could not start a process: %s", strerror(errno));
		t->done = true;
	}
	else
		t->pid = pid;
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Everything written into f, malloc'd */
static char *
read_all(FILE *f)
{
	StringInfoData buf;
	char		chunk[8192];
	size_t		n;

	initStringInfo(&buf);
	rewind(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		appendBinaryStringInfo(&buf, chunk, n);
	fclose(f);
	return buf.data;
}

static void
finish_target(Target *t, int wstatus)
{
	char	   *out = read_all(t->out);
	char	   *outcome = read_all(t->outcome);
	size_t		len = strlen(out);

	/* read now: a target printed later must hold no open file meanwhile */
	t->errors = read_all(t->err);

	if (WIFEXITED(wstatus))
		t->status = WEXITSTATUS(wstatus);
	else
	{
		t->status = EXIT_FAILED;
		outcome = psprintf("killed by signal %d", WTERMSIG(wstatus));
	}
	if (t->status == EXIT_OK)
		t->result = outcome[0] ? outcome : "done";
	else
		t->result = psprintf("failed: %s", outcome[0] ? outcome : "no outcome reported");
	while (len > 0 && isspace((unsigned char) out[len - 1]))
		out[--len] = '\0';
	t->rows = len > 0 ? out : NULL;
	t->done = true;
}

/*
 * A target's line, then what its call wrote on standard error (the
 * server's errors and notices), each line after the target's name
 */
static void
print_target(const Target *t, int width)
{
	const char *line = t->errors ? t->errors : "";

	output_target(t->shown, width, t->status, t->result, t->rows);
	fflush(stdout);
	while (*line)
	{
		size_t		n = strcspn(line, "\n");

		fprintf(stderr, "%s: %.*s\n", t->shown, (int) n, line);
		line += n + (line[n] == '\n');
	}
}

/*
 * The command against every target, at most opts->parallel at a time.
 * Lines come in the order the targets were given.  Returns the highest
 * of their exit statuses.
 */
int
fleet_run(const Options *opts, const SentFolder *folder)
{
	struct sigaction act;
	int			width = 0;
	int			next = 0,
				running = 0,
				printed = 0,
				succeeded = 0,
				rc = EXIT_OK;

	ntargets = opts->ndbnames;
	targets = pg_malloc0(ntargets * sizeof(Target));
	for (int i = 0; i < ntargets; i++)
	{
		targets[i].conninfo = opts->dbnames[i];
		targets[i].shown = connection_masked_target(opts->dbnames[i]);
		width = Max(width, (int) strlen(targets[i].shown));
	}

	memset(&act, 0, sizeof(act));
	act.sa_handler = forward_signal;
	sigemptyset(&act.sa_mask);
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);

	output_begin_rows();
	while (printed < ntargets)
	{
		while (!fleet_interrupted && running < opts->parallel && next < ntargets)
		{
			start_target(opts, folder, &targets[next]);
			running += !targets[next++].done;
		}
		if (running == 0)
		{
			/* interrupted: what was not started is not run */
			for (; next < ntargets; next++)
			{
				targets[next].status = EXIT_FAILED;
				targets[next].result = "failed: not run (interrupted)";
				targets[next].done = true;
			}
		}
		else
		{
			int			wstatus;
			pid_t		pid = waitpid(-1, &wstatus, 0);

			if (pid < 0)
			{
				if (errno == EINTR)
					continue;
				output_error("could not wait for a target's process: %m");
				exit(EXIT_SETUP);
			}
			for (int i = 0; i < ntargets; i++)
				if (targets[i].pid == pid)
				{
					targets[i].pid = 0;
					finish_target(&targets[i], wstatus);
					running--;
				}
		}
		for (; printed < ntargets && targets[printed].done; printed++)
		{
			print_target(&targets[printed], width);
			succeeded += targets[printed].status == EXIT_OK;
			rc = Max(rc, targets[printed].status);
		}
	}
	output_end_rows();
	output_summary("%d %s: %d succeeded, %d failed", ntargets,
				   ntargets == 1 ? "target" : "targets", succeeded,
				   ntargets - succeeded);
	return rc;
}
