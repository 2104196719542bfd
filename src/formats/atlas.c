/*-------------------------------------------------------------------------
 *
 * atlas.c
 *	  Atlas's migration directories: "<version>_<name>.sql" files run in the
 *	  order of their names, and "atlas.sum", the directory's integrity file,
 *	  which Atlas verifies before it runs anything.  Its tool's table is
 *	  tools/atlas_table.c's.
 *
 * atlas.sum holds a line "h1:<sum>", then a line "<file> h1:<hash>" per
 * migration file.  The hashes are those of one running SHA-256: each file's
 * name, then its bytes, are fed to it in name order, and a file's hash is
 * the digest reached after it, base64-encoded (a file whose first line
 * holds "atlas:sum ignore" feeds its name only, and has no line).  <sum> is
 * the SHA-256 of every line's file name and hash.  A directory whose files
 * do not give the hashes atlas.sum holds was changed without "atlas migrate
 * hash": Atlas refuses it, and so does pg_migrate, naming the file.
 *
 * File directives are comment lines at the top of a file, separated from
 * its statements by a blank line: "-- atlas:txmode none" runs the file
 * outside a transaction.  Atlas's checkpoint files, and files that change
 * the statement delimiter ("-- atlas:delimiter"), are refused.  Atlas has
 * no down files.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "formats/formats.h"

#define SUM_FILE "atlas.sum"

/* A running SHA-256 whose digest can be read at any point */
typedef struct RunningSha256
{
	uint32		state[8];
	uint64		length;			/* bytes fed */
	uint8		block[64];
	int			used;			/* bytes of block filled */
} RunningSha256;

/* One line of atlas.sum, or one file as computed */
typedef struct SumEntry
{
	char	   *name;
	char	   *hash;			/* base64 */
	int			line;			/* in atlas.sum, or 0 */
} SumEntry;

static bool atlas_claims(const Folder *folder, List *files);
static void atlas_scan(MigrationSet *set, List *files);
static void atlas_load(const MigrationSet *set, const Migration *m,
					   LoadedMigration *out, bool with_down);

const MigrationFormat atlas_format = {
	"atlas", atlas_claims, atlas_scan, atlas_load
};

static const uint32 sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/*
 * PostgreSQL's SHA-256 (common/cryptohash.h) ends with its digest, and
 * Atlas needs the digest after each file of one running hash: FIPS 180-4's
 * compression function, kept here.
 */
static void
sha256_block(uint32 *state, const uint8 *p)
{
	uint32		w[64];
	uint32		a = state[0],
				b = state[1],
				c = state[2],
				d = state[3],
				e = state[4],
				f = state[5],
				g = state[6],
				h = state[7];

	for (int i = 0; i < 16; i++)
		w[i] = ((uint32) p[4 * i] << 24) | ((uint32) p[4 * i + 1] << 16) |
			((uint32) p[4 * i + 2] << 8) | p[4 * i + 3];
	for (int i = 16; i < 64; i++)
		w[i] = (ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10)) +
			w[i - 7] +
			(ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3)) +
			w[i - 16];
	for (int i = 0; i < 64; i++)
	{
		uint32		t1 = h + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) +
			((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
		uint32		t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) +
			((a & b) ^ (a & c) ^ (b & c));

		h = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	state[0] += a;
	state[1] += b;
	state[2] += c;
	state[3] += d;
	state[4] += e;
	state[5] += f;
	state[6] += g;
	state[7] += h;
}

static void
sha256_init(RunningSha256 *s)
{
	static const uint32 initial[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
	};

	memcpy(s->state, initial, sizeof(initial));
	s->length = 0;
	s->used = 0;
}

static void
sha256_update(RunningSha256 *s, const char *data, size_t len)
{
	s->length += len;
	while (len > 0)
	{
		size_t		n = Min(len, (size_t) (64 - s->used));

		memcpy(s->block + s->used, data, n);
		s->used += n;
		data += n;
		len -= n;
		if (s->used == 64)
		{
			sha256_block(s->state, s->block);
			s->used = 0;
		}
	}
}

/* The digest of what was fed so far, base64-encoded; s goes on unchanged */
static char *
sha256_base64(const RunningSha256 *s)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	RunningSha256 end = *s;
	uint64		bits = s->length * 8;
	uint8		pad[72] = {0x80};
	int			padlen = (end.used < 56 ? 56 : 120) - end.used;
	uint8		digest[33];
	char	   *out = palloc(45);

	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (uint8) (bits >> (56 - 8 * i));
	sha256_update(&end, (const char *) pad, padlen + 8);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 4; j++)
			digest[4 * i + j] = (uint8) (end.state[i] >> (24 - 8 * j));
	digest[32] = 0;
	for (int i = 0, o = 0; i < 33; i += 3)
	{
		uint32		v = (digest[i] << 16) | (i + 1 < 33 ? digest[i + 1] << 8 : 0) |
			(i + 2 < 33 ? digest[i + 2] : 0);

		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < 32 ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < 32 ? alphabet[v & 63] : '=';
	}
	out[44] = '\0';
	return out;
}

/* HashFile.Sum(): the SHA-256 of every entry's name and hash */
static char *
sum_of(const SumEntry *entries, int n)
{
	RunningSha256 s;

	sha256_init(&s);
	for (int i = 0; i < n; i++)
	{
		sha256_update(&s, entries[i].name, strlen(entries[i].name));
		sha256_update(&s, entries[i].hash, strlen(entries[i].hash));
	}
	return sha256_base64(&s);
}

/*
 * The file directives of sql named name ("txmode", "checkpoint"), as Atlas
 * reads them: the leading comment lines ("--" or "#"), when a blank line
 * (or the end) follows them, holding "atlas:<name>", with their argument.
 */
static List *
file_directives(const char *sql, const char *name)
{
	List	   *comments = NIL;
	List	   *found = NIL;
	const char *p = sql;
	ListCell   *lc;

	while (strncmp(p, "--", 2) == 0 || p[0] == '#')
	{
		const char *eol = strchr(p, '\n');

		comments = lappend(comments, eol ? pnstrdup(p, eol - p) : pstrdup(p));
		if (eol == NULL)
		{
			p += strlen(p);
			break;
		}
		p = eol + 1;
	}
	p += strspn(p, " \t");
	if (*p != '\n' && *p != '\0' && !(p[0] == '\r' && p[1] == '\n'))
		return NIL;

	foreach(lc, comments)
	{
		char	   *c = lfirst(lc);
		char	   *at = NULL;
		size_t		len = strlen(name);

		/* the last "atlas:" of the line, as Atlas's greedy pattern finds */
		for (char *q = strstr(c, "atlas:"); q; q = strstr(q + 1, "atlas:"))
			at = q;
		while (strlen(c) > 0 && isspace((unsigned char) c[strlen(c) - 1]))
			c[strlen(c) - 1] = '\0';
		if (at == NULL || strncmp(at + 6, name, len) != 0 ||
			(at[6 + len] != '\0' && at[6 + len] != ' '))
			continue;
		at += 6 + len;
		at += strspn(at, " ");
		found = lappend(found, pstrdup(at));
	}
	return found;
}

/* "atlas:sum ignore" on the first line: the file is left out of the sum */
static bool
sum_ignored(const char *sql)
{
	const char *eol = strchr(sql, '\n');
	char	   *first = eol ? pnstrdup(sql, eol - sql) : pstrdup(sql);
	char	   *at = NULL;

	for (char *q = strstr(first, "atlas:"); q; q = strstr(q + 1, "atlas:"))
		at = q;
	return at != NULL && strcmp(at, "atlas:sum ignore") == 0;
}

static bool
is_sql_file(const char *file)
{
	size_t		len = strlen(file);

	return len > 4 && strcmp(file + len - 4, ".sql") == 0 &&
		strchr(file, '/') == NULL;
}

static bool
atlas_claims(const Folder *folder, List *files)
{
	return string_list_member(files, SUM_FILE);
}

/* Parse atlas.sum into entries; its first line's sum into *sum */
static SumEntry *
read_sum_file(const MigrationSet *set, char *text, int *n, char **sum)
{
	SumEntry   *entries = palloc(sizeof(SumEntry) * (count_newlines(text, strlen(text)) + 1));
	char	   *line = text;
	int			lineno = 1;
	char	   *eol;

	*n = 0;
	eol = strchr(line, '\n');
	if (eol)
		*eol = '\0';
	/* Go's line scanner drops a line's \r */
	if (eol && eol > line && eol[-1] == '\r')
		eol[-1] = '\0';
	*sum = pstrdup(strncmp(line, "h1:", 3) == 0 ? line + 3 : line);
	for (line = eol ? eol + 1 : NULL; line && *line; line = eol ? eol + 1 : NULL)
	{
		char	   *h;

		lineno++;
		eol = strchr(line, '\n');
		if (eol)
			*eol = '\0';
		if (eol && eol > line && eol[-1] == '\r')
			eol[-1] = '\0';
		h = strstr(line, "h1:");
		if (h == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("line %d of \"%s\" in folder \"%s\" is not \"<file> h1:<hash>\"",
							lineno, SUM_FILE, set->dir),
					 errdetail("Atlas refuses a migration directory whose checksum file is invalid."),
					 errhint("Write the file again with \"atlas migrate hash\".")));
		entries[*n].line = lineno;
		entries[*n].hash = pstrdup(h + 3);
		*h = '\0';
		/* Go's strings.TrimSpace */
		while (*line && isspace((unsigned char) *line))
			line++;
		while (h > line && isspace((unsigned char) h[-1]))
			*--h = '\0';
		entries[*n].name = pstrdup(line);
		(*n)++;
	}
	return entries;
}

/*
 * Atlas's migrate.Validate(): the sum file's own sum, then each file's
 * hash; the first difference names the file.
 */
static void
verify_sum(const MigrationSet *set, List *sql_files)
{
	char	   *text = folder_read_file(set->folder, SUM_FILE, true);
	SumEntry   *recorded;
	SumEntry   *computed;
	int			nrecorded;
	int			ncomputed = 0;
	char	   *sum;
	RunningSha256 h;
	ListCell   *lc;

	if (text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("Atlas migration folder \"%s\" has no \"%s\"", set->dir, SUM_FILE),
				 errdetail("Atlas refuses to run a migration directory without its checksum file."),
				 errhint("Create it with \"atlas migrate hash\" once the files are as they should be.")));
	recorded = read_sum_file(set, text, &nrecorded, &sum);
	if (strcmp(sum, sum_of(recorded, nrecorded)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("\"%s\" in folder \"%s\" does not match its own lines", SUM_FILE, set->dir),
				 errdetail("Its first line holds the checksum of the lines below it, and they give another; Atlas refuses such a directory."),
				 errhint("Write the file again with \"atlas migrate hash\" once the migration files are as they should be.")));

	computed = palloc(sizeof(SumEntry) * Max(list_length(sql_files), 1));
	sha256_init(&h);
	foreach(lc, sql_files)
	{
		const char *file = lfirst(lc);
		char	   *sql = folder_read_file(set->folder, file, false);

		sha256_update(&h, file, strlen(file));
		if (sum_ignored(sql))
			continue;
		sha256_update(&h, sql, strlen(sql));
		computed[ncomputed].name = (char *) file;
		computed[ncomputed].hash = sha256_base64(&h);
		ncomputed++;
		pfree(sql);
	}

	for (int i = 0; i < Max(nrecorded, ncomputed); i++)
	{
		const char *reason = NULL;
		const char *file;
		int			line = 0;

		if (i < nrecorded && i < ncomputed &&
			strcmp(recorded[i].name, computed[i].name) == 0 &&
			strcmp(recorded[i].hash, computed[i].hash) == 0)
			continue;
		if (i >= nrecorded)
		{
			file = computed[i].name;
			reason = "is not in it: it was added since";
		}
		else
		{
			file = recorded[i].name;
			line = recorded[i].line;
			reason = "was removed since";
			for (int j = 0; j < ncomputed; j++)
				if (strcmp(computed[j].name, file) == 0)
					reason = j == i ?
						"was edited since" :
						"is not where it was: a file was added or removed before it since";
		}
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("Atlas migration folder \"%s\" does not match its \"%s\"",
						set->dir, SUM_FILE),
				 line > 0 ?
				 errdetail("File \"%s\", on line %d of \"%s\", %s \"atlas migrate hash\" last ran; Atlas refuses such a directory.",
						   file, line, SUM_FILE, reason) :
				 errdetail("File \"%s\" %s \"atlas migrate hash\" last ran; Atlas refuses such a directory.",
						   file, reason),
				 errhint("Restore the files as atlas.sum records them; if the change is meant (a migration not applied anywhere yet), run \"atlas migrate hash\".")));
	}
}

static void
atlas_scan(MigrationSet *set, List *files)
{
	List	   *sql_files = NIL;
	const char *last_version = NULL;
	ListCell   *lc;

	/* every .sql file, in name order, as Atlas reads the directory */
	foreach(lc, files)
		if (is_sql_file(lfirst(lc)))
			sql_files = lappend(sql_files, lfirst(lc));
	verify_sum(set, sql_files);

	foreach(lc, sql_files)
	{
		const char *file = lfirst(lc);
		char	   *name = pstrdup(file);
		char	   *version;
		char	   *sql;
		List	   *directives;

		(void) strip_suffix(name, ".sql");
		version = pnstrdup(name, strcspn(name, "_"));
		if (version[0] == '\0' || strspn(version, "0123456789") != strlen(version))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("Atlas migration file \"%s\" has no numeric version", file),
					 errdetail("Atlas takes the name up to the first \"_\" as the version, \"%s\" here; pg_migrate orders Atlas migrations by numeric versions, as \"atlas migrate diff\" writes them.",
							   version),
					 errhint("Rename the file like \"20240101120000_%s\", and run \"atlas migrate hash\".",
							 file)));
		/* Atlas runs files in name order: it must be the version order */
		if (last_version && version_cmp(last_version, version) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("Atlas migration file \"%s\" sorts by name after a file of a higher version %s",
							file, last_version),
					 errdetail("Atlas runs the files of folder \"%s\" in name order, and pg_migrate in version order: the two would differ.",
							   set->dir),
					 errhint("Give the versions the same number of digits, as \"atlas migrate diff\" does, and run \"atlas migrate hash\".")));
		last_version = version;

		sql = folder_read_file(set->folder, file, false);
		if (file_directives(sql, "checkpoint") != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("Atlas checkpoint file \"%s\" is not supported", file),
					 errdetail("Atlas runs a checkpoint file instead of the files before it on an empty database, which pg_migrate does not do."),
					 errhint("Remove the checkpoint file (and run \"atlas migrate hash\"), or run this folder with Atlas.")));
		directives = file_directives(sql, "delimiter");
		if (directives != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("Atlas migration file \"%s\" sets its statement delimiter, which is not supported",
							file),
					 errdetail("Its directive \"atlas:delimiter %s\" makes Atlas split the file at another delimiter than \";\", while pg_migrate splits it as PostgreSQL does.",
							   (char *) linitial(directives)),
					 errhint("End the statements with \";\" (a function body in dollar quotes needs no other delimiter), remove the directive and run \"atlas migrate hash\".")));
		pfree(sql);
		(void) source_add(set, name, version, file);
	}
}

static void
atlas_load(const MigrationSet *set, const Migration *m, LoadedMigration *out,
		   bool with_down)
{
	List	   *txmode;

	load_script(set, m->up_file, &out->up);
	txmode = file_directives(out->up.sql, "txmode");
	if (list_length(txmode) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("Atlas migration file \"%s\" has %d txmode directives",
						m->up_file, list_length(txmode)),
				 errhint("Keep one \"-- atlas:txmode\" line, as Atlas requires.")));
	if (txmode == NIL || strcmp(linitial(txmode), "file") == 0)
		return;
	if (strcmp(linitial(txmode), "none") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("Atlas migration file \"%s\" has an invalid txmode \"%s\"",
						m->up_file, (char *) linitial(txmode)),
				 errdetail("A file directive may set txmode to \"none\" or \"file\" only (\"all\" is a setting of a whole run)."),
				 errhint("Write \"-- atlas:txmode none\" or \"-- atlas:txmode file\".")));
	out->no_transaction = true;
}
