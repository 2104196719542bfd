/*-------------------------------------------------------------------------
 *
 * util.c
 *	  Small helpers on strings, lists of strings and checksums that every
 *	  layer uses; they know nothing of migrations.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "util/compat.h"
#include "util/util.h"

/* Cut suffix off the end of s in place; false when s does not end in it */
bool
strip_suffix(char *s, const char *suffix)
{
	size_t		ls = strlen(s);
	size_t		lx = strlen(suffix);

	if (ls <= lx || strcmp(s + ls - lx, suffix) != 0)
		return false;
	s[ls - lx] = '\0';
	return true;
}

/* How many newlines the first len bytes of s hold */
int
count_newlines(const char *s, size_t len)
{
	int			n = 0;
	const char *end = s + len;

	while ((s = memchr(s, '\n', end - s)) != NULL)
	{
		n++;
		s++;
	}
	return n;
}

/* list_sort() comparator for lists of C strings */
int
compare_string_cells(const ListCell *a, const ListCell *b)
{
	return strcmp((const char *) lfirst(a), (const char *) lfirst(b));
}

/* Whether a list of C strings holds s */
bool
string_list_member(List *list, const char *s)
{
	ListCell   *lc;

	foreach(lc, list)
		if (strcmp(lfirst(lc), s) == 0)
			return true;
	return false;
}

/*
 * Hex SHA-256 of a buffer into out[MIGRATE_CHECKSUM_LEN + 1].  Every file
 * of a folder is checksummed on each status call: the digits are looked
 * up rather than formatted, which costs 32 snprintf() calls a file.
 */
void
checksum_hex(const char *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	uint8		digest[PG_SHA256_DIGEST_LENGTH];

	compat_sha256((const uint8 *) data, len, digest);
	for (int i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
	{
		out[2 * i] = digits[digest[i] >> 4];
		out[2 * i + 1] = digits[digest[i] & 0x0f];
	}
	out[2 * PG_SHA256_DIGEST_LENGTH] = '\0';
}

/* A list of C strings as a text[] datum, for a query's parameter or a result column */
Datum
util_text_array(List *items)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(items), 1));
	int			n = 0;
	ListCell   *lc;

	foreach(lc, items)
		elems[n++] = CStringGetTextDatum(lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false,
										   TYPALIGN_INT));
}
