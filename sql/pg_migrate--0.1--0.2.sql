-- pg_migrate 0.1 -> 0.2
\echo Use "ALTER EXTENSION pg_migrate UPDATE TO '0.2'" to load this file. \quit

-- The role whose privileges an action's scripts ran with.  performed_by is
-- who called; a rollback runs each down script as the role that applied
-- the migration, which may be another.  Rows written before 0.2 ran as
-- their caller.
ALTER TABLE migrate.history ADD COLUMN performed_as text;
UPDATE migrate.history SET performed_as = performed_by;

COMMENT ON COLUMN migrate.history.performed_by IS
    'the role that called the function (current_user)';
COMMENT ON COLUMN migrate.history.performed_as IS
    'the role whose privileges the scripts ran with';
