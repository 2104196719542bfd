/*-------------------------------------------------------------------------
 *
 * folder.c
 *	  A migrations folder, wherever its files are: listing it and reading
 *	  its files the same way for a folder on the server's disk (disk.c) and
 *	  for files the caller sent (sent_files.c).  Past these three files,
 *	  nothing knows which it is.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "folder/folder.h"

/* The files directly in a folder, sorted by name */
List *
folder_list_files(const Folder *folder)
{
	return folder->files ? sent_list_files(folder) : disk_list_files(folder);
}

/*
 * The subfolders directly in a folder, sorted by name, for the formats
 * that keep each migration in a folder of its own (Prisma, Diesel)
 */
List *
folder_list_subfolders(const Folder *folder)
{
	return folder->files ? sent_list_subfolders(folder) :
		disk_list_subfolders(folder);
}

/*
 * The whole text of a file of the folder (a path relative to it), valid in
 * the database encoding; NULL when there is none and missing_ok.
 */
char *
folder_read_file(const Folder *folder, const char *file, bool missing_ok)
{
	return folder->files ? sent_read_file(folder, file, missing_ok) :
		disk_read_file(folder, file, missing_ok);
}

/* Whether the folder holds that file (a path relative to it) */
bool
folder_has_file(const Folder *folder, const char *file)
{
	return folder->files ? sent_has_file(folder, file) :
		disk_has_file(folder, file);
}

/*
 * Keep the folder open while many of its files are read one after
 * another, until folder_release(), which the caller makes sure of, also
 * on error.  Nothing to hold for files sent as data.
 */
void
folder_hold(const Folder *folder)
{
	if (!folder->files)
		disk_hold(folder);
}

/* Stop holding what folder_hold() opened */
void
folder_release(const Folder *folder)
{
	if (!folder->files)
		disk_release();
}

/*
 * The stamp of a file of a held folder, if it can be trusted to change
 * whenever the file does; false when there is none (files sent as data
 * come anew with each call).
 */
bool
folder_file_stamp(const Folder *folder, const char *file, FileStamp *stamp)
{
	return folder->files ? false : disk_file_stamp(folder, file, stamp);
}

/* Whether two stamps of a file say it is unchanged */
bool
file_stamps_equal(const FileStamp *a, const FileStamp *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
		a->mtime == b->mtime && a->ctime == b->ctime;
}
