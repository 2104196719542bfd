/*-------------------------------------------------------------------------
 *
 * sent_files.c
 *	  A migrations folder sent by the caller as data: a jsonb object that
 *	  maps paths relative to the folder ("0001_users.sql",
 *	  "meta/_journal.json") to their text.
 *
 * This is how a folder that the database server cannot see (on a CI
 * runner, in the application's container) is deployed: the pg_migrate
 * command reads it and sends it with the call.  Nothing is read from the
 * server's disk, so neither superuser nor pg_read_server_files is needed.
 * Past this file, a sent folder is read like one on disk: same formats,
 * checks, errors and tracking.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "folder/folder.h"

static void check_file_name(const char *name);

/*
 * A name must stay inside the folder: relative, no "." or ".." part, no
 * empty part (as "a//b" or a trailing "/" would have).
 */
static void
check_file_name(const char *name)
{
	const char *part = name;

	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the files sent hold an empty file name"),
				 errhint("Name each file by its path relative to the migrations folder, such as \"0001_users.sql\".")));
	for (;;)
	{
		size_t		len = strcspn(part, "/");
		const char *end = part + len;

		if (len == 0 || (len == 1 && part[0] == '.') ||
			(len == 2 && part[0] == '.' && part[1] == '.') || name[0] == '/')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("file name \"%s\" in the files sent is not a path inside the folder",
							name),
					 errdetail("Names are paths relative to the migrations folder, without \".\" or \"..\" parts."),
					 errhint("Send paths such as \"0001_users.sql\" or \"meta/_journal.json\".")));
		if (*end == '\0')
			break;
		part = end + 1;
	}
}

/*
 * A folder made of the files sent.  source is what the caller says the
 * folder is (the pg_migrate command sends "client:<host>:<path>"): it is
 * recorded as the migrations' source and named in messages, and must not
 * begin with "/", as a server folder's path does.  Everything
 * wrong with the data is refused here, before anything runs.
 */
Folder *
folder_sent(Jsonb *files, const char *source)
{
	Folder	   *folder = palloc0(sizeof(Folder));
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (!JB_ROOT_IS_OBJECT(files))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the files sent must be a JSON object"),
				 errdetail("The object maps each file's path relative to the migrations folder to its text, as in {\"0001_users.sql\": \"CREATE TABLE users (...);\"}.")));

	it = JsonbIteratorInit(&files->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			check_file_name(key);
		}
		else if (tok == WJB_VALUE && v.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("file \"%s\" in the files sent is not a string", key),
					 errdetail("Each file's text is sent as a JSON string.")));
	}

	/*
	 * A server folder is recorded by its absolute path: a sent folder named
	 * like one would be taken for it in the tracking tables.
	 */
	if (source && source[0] == '/')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source \"%s\" of the files sent looks like a folder on the database server",
						source),
				 errdetail("The tracking tables record a server folder's absolute path as its source, so the source of a folder sent as data must not begin with \"/\"."),
				 errhint("Say where the files came from with a prefix, as the pg_migrate command does: source => 'client:<host>:%s'.",
						 source)));

	folder->files = files;
	folder->source = source ? pstrdup(source) : NULL;
	folder->name = source ? folder->source : "(files sent)";
	return folder;
}

/*
 * The files directly in the folder, sorted, as a listing of a folder on
 * disk gives them: names without "/", and none starting with ".".
 */
List *
sent_list_files(const Folder *folder)
{
	List	   *names = NIL;
	JsonbIterator *it = JsonbIteratorInit(&folder->files->root);
	JsonbValue	v;
	JsonbIteratorToken tok;

	/* jsonb keeps an object's keys sorted (by length, then bytes) */
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *name;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(v.val.string.val, v.val.string.len);
		if (name[0] != '.' && strchr(name, '/') == NULL)
			names = lappend(names, name);
	}
	list_sort(names, compare_string_cells);
	return names;
}

/*
 * The subfolders of the folder: the first part of the names sent with a
 * "/", each once, sorted; none starting with ".", as on disk.
 */
List *
sent_list_subfolders(const Folder *folder)
{
	List	   *names = NIL;
	JsonbIterator *it = JsonbIteratorInit(&folder->files->root);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *name;
		char	   *slash;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(v.val.string.val, v.val.string.len);
		slash = strchr(name, '/');
		if (slash == NULL || name[0] == '.')
			continue;
		*slash = '\0';
		if (!string_list_member(names, name))
			names = lappend(names, name);
	}
	list_sort(names, compare_string_cells);
	return names;
}

/* The text of a file sent, or NULL when there is none and missing_ok */
char *
sent_read_file(const Folder *folder, const char *file, bool missing_ok)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&folder->files->root,
												 file, strlen(file), NULL);

	if (v == NULL && missing_ok)
		return NULL;
	if (v == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("file \"%s\" is not among the files sent", file)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* Whether the caller sent that file (a path relative to the folder) */
bool
sent_has_file(const Folder *folder, const char *file)
{
	return getKeyJsonValueFromContainer(&folder->files->root, file,
										strlen(file), NULL) != NULL;
}
