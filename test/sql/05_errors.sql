-- Bad input: every error names what is wrong, and nothing is changed.
-- Fixtures: test/fixtures/errors/<case>/, copied where the server reads them.
\! rm -rf @testdir@/errors && mkdir -p @testdir@ && cp -R "$PG_ABS_SRCDIR/fixtures/errors" @testdir@/errors

SELECT coalesce(max(id), 0) AS history_start FROM migrate.history \gset

-- The folder argument
SELECT * FROM migrate.apply(NULL);
SELECT * FROM migrate.apply('migrations');
SELECT * FROM migrate.apply('@testdir@/errors/no_such_folder');
SELECT * FROM migrate.status('@testdir@/errors/no_such_folder');
SELECT * FROM migrate.apply('@testdir@/errors/twice/0001_init.sql');
\! mkdir -p @testdir@/errors/empty_folder
SELECT * FROM migrate.apply('@testdir@/errors/empty_folder');
\! echo 'SELECT 1;' > @testdir@/errors/empty_folder/notes.txt
SELECT * FROM migrate.apply('@testdir@/errors/empty_folder');
SELECT * FROM migrate.apply('@testdir@/errors/empty_folder', format => 'mybatis');
-- with the format named too: a deploy that names its format is told,
-- rather than silently doing nothing
SELECT * FROM migrate.apply('@testdir@/errors/empty_folder', format => 'plain');

-- A file the server cannot read
\! mkdir -p @testdir@/errors/unreadable && echo 'CREATE TABLE t_unreadable (id int);' > @testdir@/errors/unreadable/0001_secret.sql && chmod 000 @testdir@/errors/unreadable/0001_secret.sql
SELECT * FROM migrate.apply('@testdir@/errors/unreadable');

-- A file that is not valid UTF-8 (a Latin-1 "é" on line 2)
SELECT * FROM migrate.apply('@testdir@/errors/latin1');

-- Empty scripts: no bytes at all, only comments (an empty down script is
-- no down script: see 25_tool_rules)
SELECT * FROM migrate.apply('@testdir@/errors/empty');
SELECT * FROM migrate.apply('@testdir@/errors/comment_only');

-- A down script without its up script; two up scripts for one name
SELECT * FROM migrate.apply('@testdir@/errors/orphan');
SELECT * FROM migrate.apply('@testdir@/errors/twice');

-- What cannot run inside the server is refused before anything runs,
-- with the file and line: psql meta-commands (backslashes inside literals
-- and comments are fine), COPY FROM STDIN, transaction control, and
-- no-transaction migrations, which need CALL migrate.run()
SELECT * FROM migrate.apply('@testdir@/errors/meta');
SELECT * FROM migrate.apply('@testdir@/errors/meta_inline');
SELECT * FROM migrate.apply('@testdir@/errors/copy');
SELECT * FROM migrate.apply('@testdir@/errors/copy_out');
SELECT * FROM migrate.apply('@testdir@/errors/tx');
SELECT * FROM migrate.apply('@testdir@/errors/notx');
-- ... and what PostgreSQL runs only outside a transaction, in a migration
-- not marked so, is refused before it runs, with the way that works
SELECT * FROM migrate.apply('@testdir@/errors/concurrently_in_tx');

-- Syntax errors are found before anything runs, with their line
SELECT * FROM migrate.apply('@testdir@/errors/syntax');

-- Errors while running keep the server's SQLSTATE, message, detail and
-- hint, and name the file and line; the whole run is undone
SELECT * FROM migrate.apply('@testdir@/errors/duplicate');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM migrate.apply('@testdir@/errors/column');
\echo :LAST_ERROR_SQLSTATE
-- inside a DO block: the line of the failing statement in the file
SELECT * FROM migrate.apply('@testdir@/errors/do_block');
\echo :LAST_ERROR_SQLSTATE
-- a compile error in a function body: its line in the file
SELECT * FROM migrate.apply('@testdir@/errors/function');

-- After all of that, nothing was applied, created or recorded
SELECT count(*) AS tracked FROM migrate.migrations;
SELECT count(*) AS logged FROM migrate.history WHERE id > :history_start;
SELECT to_regclass('t_first') AS t_first, to_regclass('t_ok') AS t_ok,
       to_regclass('t_meta') AS t_meta, to_regclass('t_empty') AS t_empty,
       to_regclass('t_unreadable') AS t_unreadable, to_regclass('t_cic') AS t_cic;
