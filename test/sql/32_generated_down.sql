-- Down scripts generated as migrations run (issue 18, section 1): what each
-- kind of statement inverts to, and the round trip: each migration applied,
-- then rolled back with its generated down script, leaves the schema as
-- migrate.schema_objects() described it before.
\! rm -rf @testdir@/gendown && mkdir -p @testdir@/gendown && cp -R "$PG_ABS_SRCDIR/fixtures/generated_down/." @testdir@/gendown/

-- the lint's warnings are not what this test is about
SET migrate.lint = off;
CREATE TEMP TABLE objects_before (step int, object_type text, object_identity text, digest text);
INSERT INTO objects_before SELECT 0, object_type, object_identity, digest FROM migrate.schema_objects();

-- apply one migration at a time, noting the schema after each
SELECT name, action FROM migrate.apply('@testdir@/gendown', target => '0001_create');
INSERT INTO objects_before SELECT 1, object_type, object_identity, digest FROM migrate.schema_objects();
SELECT name, action FROM migrate.apply('@testdir@/gendown', target => '0002_alter');
INSERT INTO objects_before SELECT 2, object_type, object_identity, digest FROM migrate.schema_objects();
SELECT name, action FROM migrate.apply('@testdir@/gendown', target => '0003_replace');
INSERT INTO objects_before SELECT 3, object_type, object_identity, digest FROM migrate.schema_objects();
SELECT name, action FROM migrate.apply('@testdir@/gendown');

-- the generated scripts, newest statement first, and what they do not undo
SELECT name, down_generated, down_sql FROM migrate.migrations
WHERE down_generated ORDER BY id;
SELECT name, jsonb_pretty(down_partial) AS down_partial FROM migrate.migrations
WHERE down_generated ORDER BY id;

-- the schema as it was before a step, compared with now: what differs
CREATE FUNCTION pg_temp.differs(at int) RETURNS TABLE (change text, object_type text, object_identity text)
LANGUAGE sql AS $$
    (SELECT 'gone', object_type, object_identity FROM objects_before WHERE step = at
     EXCEPT SELECT 'gone', object_type, object_identity FROM migrate.schema_objects())
    UNION ALL
    (SELECT 'new', object_type, object_identity FROM migrate.schema_objects()
     EXCEPT SELECT 'new', object_type, object_identity FROM objects_before WHERE step = at)
    UNION ALL
    (SELECT 'changed', b.object_type, b.object_identity
     FROM objects_before b JOIN migrate.schema_objects() o USING (object_type, object_identity)
     WHERE b.step = at AND b.digest <> o.digest)
    ORDER BY 1, 2, 3
$$;

-- a partial generated down script is refused, naming file, line and why
SELECT name, action FROM migrate.rollback();
-- unless told to skip what it does not undo
SELECT name, action FROM migrate.rollback(skip_partial => true);
SELECT * FROM pg_temp.differs(3);

SELECT name, action FROM migrate.rollback();
SELECT * FROM pg_temp.differs(2);
SELECT name, action FROM migrate.rollback();
SELECT * FROM pg_temp.differs(1);
SELECT name, action FROM migrate.rollback();
SELECT * FROM pg_temp.differs(0);
SELECT count(*) AS gen_schema FROM pg_namespace WHERE nspname = 'gen';
RESET migrate.lint;
