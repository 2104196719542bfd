/*-------------------------------------------------------------------------
 *
 * ddl_triggers.c
 *	  The functions of the extension's event triggers (ddl_command_end,
 *	  sql_drop, table_rewrite; ddl_command_start of CREATE INDEX, DROP
 *	  INDEX and ALTER TABLE),
 *	  which hand each DDL command to the DDL log (tracking/ddl_log.c).
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/event_trigger.h"
#include "fmgr.h"

#include "tracking/tracking.h"

PG_FUNCTION_INFO_V1(migrate_ddl_command_start);
PG_FUNCTION_INFO_V1(migrate_ddl_command_end);
PG_FUNCTION_INFO_V1(migrate_ddl_sql_drop);
PG_FUNCTION_INFO_V1(migrate_ddl_table_rewrite);

static EventTriggerData *
trigger_data(FunctionCallInfo fcinfo)
{
	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function was not called by an event trigger")));
	return (EventTriggerData *) fcinfo->context;
}

static void
log_event(FunctionCallInfo fcinfo, DdlEvent event)
{
	EventTriggerData *trigdata = trigger_data(fcinfo);

	ddl_log_record(event, trigdata->tag, trigdata->parsetree);
}

/*
 * migrate.ddl_command_start(): refuses, under block, what would commit
 * before ddl_command_end (CREATE INDEX CONCURRENTLY, ALTER TABLE ...
 * DETACH PARTITION ... CONCURRENTLY)
 */
Datum
migrate_ddl_command_start(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata = trigger_data(fcinfo);

	ddl_log_check_start(trigdata->tag, trigdata->parsetree);
	PG_RETURN_VOID();
}

/* migrate.ddl_command_end(): the commands a DDL statement ran */
Datum
migrate_ddl_command_end(PG_FUNCTION_ARGS)
{
	log_event(fcinfo, DDL_EVENT_COMMAND);
	PG_RETURN_VOID();
}

/* migrate.ddl_sql_drop(): the objects a DDL statement dropped */
Datum
migrate_ddl_sql_drop(PG_FUNCTION_ARGS)
{
	log_event(fcinfo, DDL_EVENT_DROP);
	PG_RETURN_VOID();
}

/* migrate.ddl_table_rewrite(): a table a DDL statement is about to rewrite */
Datum
migrate_ddl_table_rewrite(PG_FUNCTION_ARGS)
{
	log_event(fcinfo, DDL_EVENT_REWRITE);
	PG_RETURN_VOID();
}
