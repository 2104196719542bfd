-- Settings a migration changes (SET search_path, SET ROLE, RESET ALL...)
-- do not leak into the next migration, nor into the caller's session: each
-- migration starts from the caller's settings and role as at the call, and
-- applying a folder in one call or in two gives the same schema.
\! rm -rf @testdir@/settings @testdir@/settings_later && mkdir -p @testdir@/settings @testdir@/settings_later
\! printf 'CREATE SCHEMA settings_other;\nSET search_path = settings_other;\nCREATE TABLE in_other (id int);\nSET lock_timeout = 123456;\nSET ROLE regress_settings_role;\n' > @testdir@/settings/0001_switch.sql
\! printf 'DROP TABLE settings_other.in_other;\nDROP SCHEMA settings_other;\n' > @testdir@/settings/0001_switch.down.sql
\! printf 'CREATE TABLE where_am_i (id int);\n' > @testdir@/settings/0002_where.sql
\! printf 'DROP TABLE where_am_i;\n' > @testdir@/settings/0002_where.down.sql
\! printf 'RESET ALL;\nSET search_path = settings_other;\n' > @testdir@/settings/0003_reset.sql
\! printf 'SELECT 1;\n' > @testdir@/settings/0003_reset.down.sql
\! printf 'CREATE TABLE lock_seen AS SELECT current_setting($$lock_timeout$$) AS lock_timeout, current_setting($$migrate.lock_timeout$$) AS migrate_lock_timeout;\n' > @testdir@/settings/0004_seen.sql
\! printf 'DROP TABLE lock_seen;\n' > @testdir@/settings/0004_seen.down.sql

CREATE ROLE regress_settings_role;
SET migrate.lock_timeout = '7s';
SET lock_timeout = '3s';

-- Where each migration's objects went, and who owns them
CREATE TEMP VIEW created AS
SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner) = current_user AS mine
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname IN ('in_other', 'where_am_i', 'lock_seen') ORDER BY 2;

SELECT name, action FROM migrate.apply('@testdir@/settings');
SELECT * FROM created;
-- the fourth migration ran with migrate.lock_timeout in force, as set by
-- the caller, although the third one ran RESET ALL
SELECT * FROM lock_seen;
-- and the caller's session is as it was
SHOW search_path;
SHOW lock_timeout;
SHOW migrate.lock_timeout;
SELECT current_user = session_user AS same_role;
CREATE TEMP TABLE one_call AS SELECT * FROM created;

-- The same folder applied in two calls gives the same schema
SELECT name, action FROM migrate.rollback('0001_switch');
\! mv @testdir@/settings/0002_* @testdir@/settings/0003_* @testdir@/settings/0004_* @testdir@/settings_later/
SELECT name, action FROM migrate.apply('@testdir@/settings');
\! mv @testdir@/settings_later/* @testdir@/settings/
SELECT name, action FROM migrate.apply('@testdir@/settings');
SELECT * FROM created EXCEPT SELECT * FROM one_call;
SELECT * FROM one_call EXCEPT SELECT * FROM created;

-- run() gives the same too, and leaves the session as it was
SELECT name, action FROM migrate.rollback('0001_switch');
CALL migrate.run('@testdir@/settings');
SELECT * FROM created EXCEPT SELECT * FROM one_call;
SHOW search_path;
SHOW lock_timeout;
SELECT current_user = session_user AS same_role;

SELECT name, action FROM migrate.rollback('0001_switch');
RESET migrate.lock_timeout;
RESET lock_timeout;
DROP ROLE regress_settings_role;
