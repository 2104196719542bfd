/*-------------------------------------------------------------------------
 *
 * output.c
 *	  What the pg_migrate command prints: a line per migration and a
 *	  one-line summary for a person, the result rows as JSON with --json,
 *	  errors only with -q.
 *
 * Standard output carries the results (lines or JSON); standard error the
 * server's errors and notices, exactly as libpq formats them (psql's
 * default verbosity: message, detail, hint, query, context with the file
 * and line), and the command's own errors.  While a call runs, a terminal
 * shows which migration is running on a line that is then overwritten.
 *
 * File and migration names can hold any byte but '/' and NUL, so control
 * characters in what is printed, the server's messages included, are
 * written as \xNN: an escape sequence in a file name must not reach the
 * terminal.  A message keeps its own line breaks.
 *
 * Standard output may be a pipe that its reader closes (pg_migrate run |
 * head -1).  SIGPIPE is ignored (main()), so that the command is not killed
 * while the call goes on in the server: once a write to standard output
 * fails, the rest of the results are dropped, stderr says so once, and
 * the command waits for the call and exits with its status.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <time.h>
#include <unistd.h>

#include "client.h"

static const Options *out_opts;
static bool stdout_is_terminal;
static bool stdout_broken;		/* a write to standard output failed */
static bool progress_shown;		/* a progress line is on the terminal */
static int	rows_printed;		/* JSON objects printed so far */

/* What a target of several reports as its outcome (fleet.c) */
static char *first_error;		/* the first line of the first error */
static char *last_summary;		/* the latest one-line summary */

static void flush_stdout(void);
static char *printable(const char *s, bool keep_lines);
static void fput_printable(const char *s, bool keep_lines, FILE *f);
static void clear_progress(void);
static char *format_va(const char *fmt, va_list args) pg_attribute_printf(1, 0);
static void print_message(const char *label, const char *fmt, va_list args)
			pg_attribute_printf(2, 0);
static void print_json_string(const char *s);
static void note_error(const char *message);
static void note_summary(const char *summary);

void
output_init(const Options *opts)
{
	out_opts = opts;
	stdout_is_terminal = isatty(fileno(stdout));
}

/*
 * Flush standard output; the first time that fails (its reader went
 * away), say so, and drop what is printed there from then on.
 */
static void
flush_stdout(void)
{
	if (stdout_broken || (fflush(stdout) == 0 && !ferror(stdout)))
		return;
	stdout_broken = true;
	fprintf(stderr, "pg_migrate: warning: could not write to standard output: %s; "
			"the rest of the results are not printed, and the call goes on\n",
			strerror(errno));
}

/*
 * s with control characters written as \xNN (line breaks and tabs kept
 * when keep_lines), malloc'd
 */
static char *
printable(const char *s, bool keep_lines)
{
	size_t		len = strlen(s);
	char	   *out = pg_malloc(len * 4 + 1);
	char	   *p = out;

	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if ((c < 0x20 || c == 0x7f) && !(keep_lines && (c == '\n' || c == '\t')))
			p += sprintf(p, "\\x%02x", c);
		else
			*p++ = *s;
	}
	*p = '\0';
	return out;
}

static void
fput_printable(const char *s, bool keep_lines, FILE *f)
{
	char	   *text = printable(s, keep_lines);

	fputs(text, f);
	free(text);
}

static void
clear_progress(void)
{
	if (!progress_shown)
		return;
	fputs("\r\033[K", stdout);
	flush_stdout();
	progress_shown = false;
}

/*
 * Which migration is running, on a terminal only: the line is overwritten
 * by the next one and by whatever is printed next, so logs and pipes get
 * none of it.  NULL clears it.
 */
void
output_progress(const char *what, const char *name)
{
	if (!stdout_is_terminal || out_opts->quiet || out_opts->json)
		return;
	clear_progress();
	if (name == NULL)
		return;
	if (stdout_broken)
		return;
	fputs(what, stdout);
	putchar(' ');
	fput_printable(name, false, stdout);
	fputs(" ...", stdout);
	flush_stdout();
	progress_shown = true;
}

/* fmt formatted, malloc'd; %m is errno as it was when called */
static char *
format_va(const char *fmt, va_list args)
{
	char	   *text;
	size_t		len;
	int			save_errno = errno;
	va_list		copy;

	va_copy(copy, args);
	len = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	text = pg_malloc(len + 1);
	errno = save_errno;
	vsnprintf(text, len + 1, fmt, args);
	return text;
}

/* "pg_migrate: error: ...", as PostgreSQL's own programs print theirs */
static void
print_message(const char *label, const char *fmt, va_list args)
{
	char	   *text;
	size_t		len;
	int			save_errno = errno;

	clear_progress();
	errno = save_errno;
	text = format_va(fmt, args);
	/* libpq's messages end with a newline */
	len = strlen(text);
	while (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	if (strcmp(label, "error") == 0)
		note_error(text);
	fprintf(stderr, "pg_migrate: %s: ", label);
	fput_printable(text, true, stderr);
	fputc('\n', stderr);
	free(text);
}

void
output_error(const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	print_message("error", fmt, args);
	va_end(args);
}

void
output_detail(const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	print_message("detail", fmt, args);
	va_end(args);
}

void
output_hint(const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	print_message("hint", fmt, args);
	va_end(args);
}

/* The one-line summary of a call that succeeded, for a person */
void
output_summary(const char *fmt,...)
{
	va_list		args;

	char	   *text;

	va_start(args, fmt);
	text = format_va(fmt, args);
	va_end(args);
	note_summary(text);
	if (out_opts->quiet || out_opts->json || stdout_broken)
	{
		free(text);
		return;
	}
	clear_progress();
	fput_printable(text, false, stdout);
	free(text);
	putchar('\n');
	flush_stdout();
}

/* The one-line summary of a call that failed, after the server's error */
void
output_failure_summary(const char *fmt,...)
{
	va_list		args;

	char	   *text;

	va_start(args, fmt);
	text = format_va(fmt, args);
	va_end(args);
	note_summary(text);
	if (out_opts->quiet)
	{
		free(text);
		return;
	}
	clear_progress();
	fputs("pg_migrate: ", stderr);
	fput_printable(text, true, stderr);
	free(text);
	fputc('\n', stderr);
}

/*
 * An error of a call, as the server gave it.  Returns the exit status it
 * calls for: a lost connection, and the server failing to find or read a
 * folder or file (SQLSTATE class 58), are setup errors; anything else is
 * the migrations' failure (a statement, drift, a check).
 */
int
output_server_error(PGconn *conn, const PGresult *res)
{
	const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *message = res ? PQresultErrorMessage(res) : "";

	clear_progress();
	flush_stdout();
	if (message[0] == '\0')
		message = PQerrorMessage(conn);
	note_error(res && PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) ?
			   PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : message);
	fput_printable(message, true, stderr);
	if (PQstatus(conn) == CONNECTION_BAD || sqlstate == NULL)
		return EXIT_SETUP;
	if (strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "58", 2) == 0)
		return EXIT_SETUP;
	return EXIT_FAILED;
}

/* A notice or warning the call raised, as psql shows it */
void
output_notice(const PGresult *res)
{
	if (out_opts->quiet)
		return;
	clear_progress();
	flush_stdout();
	fput_printable(PQresultErrorMessage(res), true, stderr);
}

void
output_begin_rows(void)
{
	rows_printed = 0;
	if (out_opts->json && !stdout_broken)
		fputs("[", stdout);
}

void
output_end_rows(void)
{
	if (out_opts->json && !stdout_broken)
		fputs(rows_printed > 0 ? "\n]\n" : "]\n", stdout);
	flush_stdout();
}

static void
print_json_string(const char *s)
{
	StringInfoData buf;

	if (s == NULL)
	{
		fputs("null", stdout);
		return;
	}
	initStringInfo(&buf);
	json_append_string(&buf, s, strlen(s), -1);
	fputs(buf.data, stdout);
	pfree(buf.data);
}

static void
begin_json_row(void)
{
	fputs(rows_printed++ > 0 ? ",\n  {" : "\n  {", stdout);
}

/* A row of --json's array for one migration: its name and what was done */
static void
begin_json_action(const char *name, const char *action)
{
	begin_json_row();
	fputs("\"name\": ", stdout);
	print_json_string(name);
	fputs(", \"action\": ", stdout);
	print_json_string(action);
}

/*
 * A row of migrate.runs: in --json every column by its name (strings, or
 * null); else the id, state, migration reached, role, elapsed time, folder
 * and error.
 */
void
output_run_row(const PGresult *res, int row)
{
	if (stdout_broken)
		return;
	if (out_opts->json)
	{
		begin_json_row();
		for (int col = 0; col < PQnfields(res); col++)
		{
			fputs(col > 0 ? ", " : "", stdout);
			print_json_string(PQfname(res, col));
			fputs(": ", stdout);
			print_json_string(PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col));
		}
		fputs("}", stdout);
		return;
	}
	if (out_opts->quiet)
		return;
	/* the query of command_runs(): id, state, at, role, elapsed, source, error */
	for (int col = 0; col < 7; col++)
	{
		const char *value = PQgetisnull(res, row, col) ? "-" : PQgetvalue(res, row, col);
		char	   *shown = printable(value, false);

		printf(col == 0 ? "%-6s" : col == 6 ? "  %s" : col == 2 ? "  %-24s" : "  %-11s", shown);
		free(shown);
	}
	putchar('\n');
	flush_stdout();
}

/* A file capture wrote: its path, and the migration it holds */
void
output_captured(const char *name, const char *path)
{
	if (stdout_broken)
		return;
	if (out_opts->json)
	{
		begin_json_action(name, "captured");
		fputs(", \"file\": ", stdout);
		print_json_string(path);
		fputc('}', stdout);
		flush_stdout();
		return;
	}
	if (out_opts->quiet)
		return;
	clear_progress();
	fputs("wrote ", stdout);
	fput_printable(path, false, stdout);
	putchar('\n');
	flush_stdout();
}

/*
 * One migration applied, adopted or rolled back; tool, for one adopted,
 * is the folder's tool that had applied it, or NULL
 */
void
output_migration(const char *name, const char *action, double seconds,
				 const char *tool)
{
	if (stdout_broken)
		return;
	if (out_opts->json)
	{
		begin_json_action(name, action);
		printf(", \"duration\": %.6f}", seconds);
		flush_stdout();
		return;
	}
	if (out_opts->quiet)
		return;
	clear_progress();
	printf("%s ", action);
	fput_printable(name, false, stdout);
	if (strcmp(action, "adopted") != 0)
		printf(" (%s)\n", output_duration(seconds));
	else if (tool != NULL)
	{
		fputs(" (applied by ", stdout);
		fput_printable(tool, false, stdout);
		fputs(")\n", stdout);
	}
	else
		putchar('\n');
	flush_stdout();
}

/*
 * One row of status; applied_at is NULL when not applied, down when there
 * is no down script (or the server's SQL is older than 0.4)
 */
void
output_status_row(const char *name, const char *state, const char *applied_at,
				  const char *checksum, const char *down, int name_width)
{
	if (stdout_broken)
		return;
	if (out_opts->json)
	{
		begin_json_row();
		fputs("\"name\": ", stdout);
		print_json_string(name);
		fputs(", \"state\": ", stdout);
		print_json_string(state);
		fputs(", \"applied_at\": ", stdout);
		print_json_string(applied_at);
		fputs(", \"checksum\": ", stdout);
		print_json_string(checksum);
		fputs(", \"down\": ", stdout);
		print_json_string(down);
		fputs("}", stdout);
		return;
	}
	if (out_opts->quiet)
		return;
	name = printable(name, false);
	if (applied_at)
		printf("%-*s  %-8s  %s", name_width, name, state, applied_at);
	else
		printf("%-*s  %s", name_width, name, state);
	/* what a rollback would run: the generated ones are worth a review */
	if (down && strcmp(down, "written") != 0)
		printf("  (down script %s)", down);
	putchar('\n');
	free((char *) name);
	flush_stdout();
}

/*
 * A recorded down script, as it is: it is meant to be redirected into the
 * folder.  partial is the JSON list of statements it does not undo.
 */
void
output_down_script(const char *name, const char *down, const char *partial,
				   const char *down_sql)
{
	size_t		len = strlen(down_sql);

	if (stdout_broken)
		return;
	if (out_opts->json)
	{
		output_begin_rows();
		begin_json_row();
		fputs("\"name\": ", stdout);
		print_json_string(name);
		fputs(", \"down\": ", stdout);
		print_json_string(down);
		fprintf(stdout, ", \"partial\": %s, \"down_sql\": ", partial ? partial : "null");
		print_json_string(down_sql);
		fputs("}", stdout);
		output_end_rows();
		return;
	}
	fputs(down_sql, stdout);
	if (len > 0 && down_sql[len - 1] != '\n')
		putchar('\n');
	flush_stdout();
}

/*
 * One row of verify: the migration, its result, which down script was
 * tested ("written", "generated" or NULL) and the detail; objects, the
 * JSON array of what differs, goes into --json's row as it is.
 */
void
output_verify_row(const char *name, const char *result, const char *down,
				  const char *detail, const char *objects, int name_width)
{
	if (stdout_broken)
		return;
	if (out_opts->json)
	{
		begin_json_row();
		fputs("\"name\": ", stdout);
		print_json_string(name);
		fputs(", \"result\": ", stdout);
		print_json_string(result);
		fputs(", \"down\": ", stdout);
		print_json_string(down);
		fputs(", \"detail\": ", stdout);
		print_json_string(detail);
		fputs(", \"objects\": ", stdout);
		fputs(objects ? objects : "null", stdout);
		fputs("}", stdout);
		return;
	}
	if (out_opts->quiet)
		return;
	name = printable(name, false);
	printf("%-*s  %-12s", name_width, name, result);
	if (down)
		printf("  %s down", down);
	if (detail)
	{
		fputs(down ? ": " : "  ", stdout);
		fput_printable(detail, false, stdout);
	}
	putchar('\n');
	free((char *) name);
	flush_stdout();
}

/*
 * One row of the lifecycle commands (lint, plan, baseline, ...): the
 * first column padded to name_width and the rest of the line, for a
 * person; the row as the server made it into JSON, with --json.
 */
void
output_row(const char *name, int name_width, const char *rest, const char *json)
{
	if (stdout_broken)
		return;
	if (out_opts->json)
	{
		begin_json_row();
		/* the server's object, without its braces, inside ours */
		fprintf(stdout, "%.*s}", (int) strlen(json) - 2, json + 1);
		return;
	}
	if (out_opts->quiet)
		return;
	name = printable(name, false);
	printf("%-*s  ", name_width, name);
	fput_printable(rest, false, stdout);
	putchar('\n');
	free((char *) name);
	flush_stdout();
}

/*
 * One target of several: its connection (password masked), what came of
 * it, and with --json its exit status and the rows it printed (a JSON
 * array, or NULL when it printed none)
 */
void
output_target(const char *target, int width, int exit_status,
			  const char *outcome, const char *rows)
{
	if (stdout_broken)
		return;
	if (out_opts->json)
	{
		begin_json_row();
		fputs("\"target\": ", stdout);
		print_json_string(target);
		fprintf(stdout, ", \"exit\": %d, \"outcome\": ", exit_status);
		print_json_string(outcome);
		fprintf(stdout, ", \"rows\": %s}", rows ? rows : "null");
		flush_stdout();
		return;
	}
	if (out_opts->quiet && exit_status == EXIT_OK)
		return;
	target = printable(target, false);
	printf("%-*s  ", width, target);
	fput_printable(outcome, false, stdout);
	putchar('\n');
	free((char *) target);
	flush_stdout();
}

/* The first line of the first error, kept for output_outcome() */
static void
note_error(const char *message)
{
	if (first_error == NULL)
		first_error = pnstrdup(message, strcspn(message, "\n"));
}

static void
note_summary(const char *summary)
{
	free(last_summary);
	last_summary = pg_strdup(summary);
}

/*
 * What came of the call, in one line: its summary when it succeeded; the
 * first error (or the summary, as for status finding a failed migration)
 * when it did not
 */
const char *
output_outcome(int exit_status)
{
	if (exit_status == EXIT_OK)
		return last_summary ? last_summary : "done";
	if (first_error)
		return first_error;
	return last_summary ? last_summary : "failed";
}

/*
 * A JSON string of len bytes of s.  Characters of more than one byte are
 * copied whole: in some client encodings (SJIS, BIG5) their second byte
 * can look like a backslash.  encoding -1 means ASCII-compatible
 * throughout (text that came from the server, as UTF-8 or such).
 */
void
json_append_string(StringInfo buf, const char *s, size_t len, int encoding)
{
	size_t		i = 0;

	appendStringInfoChar(buf, '"');
	while (i < len)
	{
		unsigned char c = (unsigned char) s[i];
		size_t		run = i;

		/* copy the longest stretch that needs no escape at once */
		while (run < len && (unsigned char) s[run] >= 0x20 &&
			   s[run] != '"' && s[run] != '\\')
		{
			if ((unsigned char) s[run] >= 0x80 && encoding >= 0)
				run += Max(1, PQmblen(s + run, encoding));
			else
				run++;
		}
		if (run > i)
		{
			appendBinaryStringInfo(buf, s + i, Min(run, len) - i);
			i = Min(run, len);
			continue;
		}
		if (c == '"' || c == '\\')
			appendStringInfo(buf, "\\%c", c);
		else if (c == '\n')
			appendStringInfoString(buf, "\\n");
		else if (c == '\t')
			appendStringInfoString(buf, "\\t");
		else if (c == '\r')
			appendStringInfoString(buf, "\\r");
		else
			appendStringInfo(buf, "\\u%04x", c);
		i++;
	}
	appendStringInfoChar(buf, '"');
}

/* "12 ms", "3.4 s", "2 min 05 s" */
char *
output_duration(double seconds)
{
	if (seconds < 1.0)
		return psprintf("%.0f ms", seconds * 1000.0);
	if (seconds < 60.0)
		return psprintf("%.1f s", seconds);
	return psprintf("%d min %02d s", (int) (seconds / 60), (int) seconds % 60);
}

/* Seconds on a clock that only moves forward */
double
output_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
