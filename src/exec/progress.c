/*-------------------------------------------------------------------------
 *
 * progress.c
 *	  A detached run's progress and messages, published out of band in a
 *	  dynamic shared memory segment for migrate.runs and migrate.wait().
 *
 * A run commits after each migration, but the statement it is running is
 * inside an open transaction (or in the no-transaction worker, another
 * process): a table row updated there is invisible to everyone else until
 * the migration commits, and updating one in a transaction of its own per
 * statement would cost a commit per statement.  So the run's backend
 * (and the no-transaction worker it starts, which attaches the same
 * segment) write the migration and statement they are at into a small
 * segment whose handle the committed row of the run records; a reader
 * attaches, copies what it needs under the spinlock, and detaches.  A
 * handle outlives its segment (after the run ends, or a restart): it then
 * attaches to nothing, or to another segment, which the magic number and
 * the run id tell apart.
 *
 * The segment also holds a ring of the messages (notices, the runner's
 * DEBUG1 messages for clients) the run raised, which nobody would
 * otherwise see: migrate.wait() relays them to its own client.  The one
 * writer is the run's backend; a reader that falls a lap behind skips to
 * the newest message.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/dsm.h"

#include "exec/exec.h"

#define PROGRESS_MAGIC	0x70676d70	/* "pgmp" */

/* The run this process publishes, or NULL */
RunProgress *run_progress = NULL;
uint32		run_progress_handle = 0;

/*
 * A segment for run_id's progress, published by this process from now
 * on.  It is pinned (it outlives its creator's mapping: migrate.start()
 * creates it, the run's worker writes it and unpins it when done), so
 * that a queued run's handle attaches until its worker ends.
 */
dsm_segment *
progress_create(int64 run_id, Oid role)
{
	dsm_segment *seg = dsm_create(sizeof(RunProgress), 0);
	RunProgress *p = dsm_segment_address(seg);

	memset(p, 0, offsetof(RunProgress, written));
	p->magic = PROGRESS_MAGIC;
	p->run_id = run_id;
	p->role = role;
	SpinLockInit(&p->mutex);
	pg_atomic_init_u64(&p->written, 0);
	return seg;
}

/*
 * The progress of run_id from its handle, attached, or NULL when the
 * segment is gone (the run ended, or the server restarted since) or the
 * handle now names another segment.  The caller detaches *seg.
 */
RunProgress *
progress_attach(uint32 handle, int64 run_id, dsm_segment **seg)
{
	RunProgress *p;

	*seg = NULL;
	if (handle == 0)
		return NULL;
	/* the run's own backend has it mapped already */
	if ((*seg = dsm_find_mapping(handle)) != NULL)
	{
		p = dsm_segment_address(*seg);
		*seg = NULL;
		return p->magic == PROGRESS_MAGIC && p->run_id == run_id ? p : NULL;
	}
	if ((*seg = dsm_attach(handle)) == NULL)
		return NULL;
	p = dsm_segment_address(*seg);
	if (dsm_segment_map_length(*seg) < sizeof(RunProgress) ||
		p->magic != PROGRESS_MAGIC || p->run_id != run_id)
	{
		dsm_detach(*seg);
		*seg = NULL;
		return NULL;
	}
	return p;
}

/* A copy of the fields, taken at once */
void
progress_read(RunProgress *p, RunProgressState *copy)
{
	SpinLockAcquire(&p->mutex);
	*copy = p->s;
	SpinLockRelease(&p->mutex);
}

/* The migration being run: number of the total, counting pending ones */
void
progress_set_migration(int number, int total, const char *name)
{
	RunProgress *p = run_progress;

	if (p == NULL)
		return;
	SpinLockAcquire(&p->mutex);
	p->s.migration_number = number;
	p->s.migrations = total;
	snprintf(p->s.migration, sizeof(p->s.migration), "%s", name);
	p->s.statement_number = 0;
	p->s.statements = 0;
	p->s.line = 0;
	p->s.file[0] = '\0';
	SpinLockRelease(&p->mutex);
}

void
progress_migration_done(void)
{
	RunProgress *p = run_progress;

	if (p == NULL)
		return;
	SpinLockAcquire(&p->mutex);
	p->s.applied++;
	SpinLockRelease(&p->mutex);
}

/*
 * The statement being run, by this process: its pid is the one whose
 * index build pg_stat_progress_create_index shows.
 */
void
progress_set_statement(int number, int total, int line, const char *file)
{
	RunProgress *p = run_progress;

	if (p == NULL)
		return;
	SpinLockAcquire(&p->mutex);
	p->s.statement_number = number;
	p->s.statements = total;
	p->s.line = line;
	p->s.statement_pid = MyProcPid;
	snprintf(p->s.file, sizeof(p->s.file), "%s", file);
	SpinLockRelease(&p->mutex);
}

static void
ring_copy_in(RunProgress *p, uint64 pos, const char *data, Size len)
{
	while (len > 0)
	{
		Size		off = pos % PROGRESS_RING_SIZE;
		Size		n = Min(len, PROGRESS_RING_SIZE - off);

		memcpy(p->ring + off, data, n);
		pos += n;
		data += n;
		len -= n;
	}
}

static void
ring_copy_out(const RunProgress *p, uint64 pos, char *data, Size len)
{
	while (len > 0)
	{
		Size		off = pos % PROGRESS_RING_SIZE;
		Size		n = Min(len, PROGRESS_RING_SIZE - off);

		memcpy(data, p->ring + off, n);
		pos += n;
		data += n;
		len -= n;
	}
}

/* Append a message to the ring; one too big for a quarter of it is left out */
void
progress_write_message(const char *data, uint32 len)
{
	RunProgress *p = run_progress;
	uint64		pos;

	if (p == NULL || len > PROGRESS_RING_SIZE / 4)
		return;
	pos = pg_atomic_read_u64(&p->written);
	ring_copy_in(p, pos, (const char *) &len, sizeof(len));
	ring_copy_in(p, pos + sizeof(len), data, len);
	pg_write_barrier();
	pg_atomic_write_u64(&p->written, pos + sizeof(len) + len);
}

/*
 * The message at *pos, into out, advancing *pos; false when there is none
 * yet.  A reader overtaken by the writer goes on from the newest message.
 */
bool
progress_read_message(RunProgress *p, uint64 *pos, StringInfo out)
{
	for (;;)
	{
		uint64		written = pg_atomic_read_u64(&p->written);
		uint32		len;

		pg_read_barrier();
		if (written - *pos > PROGRESS_RING_SIZE)
			*pos = written;
		if (*pos >= written)
			return false;
		ring_copy_out(p, *pos, (char *) &len, sizeof(len));
		resetStringInfo(out);
		enlargeStringInfo(out, len);
		ring_copy_out(p, *pos + sizeof(len), out->data, len);
		out->len = len;
		out->data[len] = '\0';
		pg_read_barrier();
		/* overwritten while it was copied: skip ahead */
		if (pg_atomic_read_u64(&p->written) - *pos > PROGRESS_RING_SIZE)
			continue;
		*pos += sizeof(len) + len;
		return true;
	}
}
