-- migrate.status() of a folder on disk keeps the checksums of the files it
-- read last, each with the file's stamp (device, inode, size, modification
-- and status change times), and reads a file again only when its stamp
-- changed.  The status change time (ctime) is set by the kernel at every
-- write, and a file gets a stamp only two seconds after it was last
-- written, so any change made since is seen: content of the same size
-- written in place, in the same second, with its modification time put
-- back, or a file replaced by another.
\! rm -rf @testdir@/stamps @testdir@/stamps_new && mkdir -p @testdir@/stamps @testdir@/stamps_new
\! printf 'CREATE TABLE stamp_a (id int);\n' > @testdir@/stamps/0001_a.sql
\! printf 'CREATE TABLE stamp_b (id int);\n' > @testdir@/stamps/0002_b.sql
SELECT name, action FROM migrate.apply('@testdir@/stamps');

SELECT pg_sleep(2.2);
SELECT s.name, s.state, s.checksum = m.checksum AS recorded_checksum
FROM migrate.status('@testdir@/stamps') s JOIN migrate.migrations m USING (name);
-- the same again, from the checksums kept
SELECT s.name, s.state, s.checksum = m.checksum AS recorded_checksum
FROM migrate.status('@testdir@/stamps') s JOIN migrate.migrations m USING (name);

-- the same size, written in place, the modification time put back
\! touch -r @testdir@/stamps/0001_a.sql @testdir@/stamps_new/ref && printf 'CREATE TABLE stamp_x (id int);\n' > @testdir@/stamps/0001_a.sql && touch -r @testdir@/stamps_new/ref @testdir@/stamps/0001_a.sql
SELECT s.name, s.state, s.checksum = m.checksum AS recorded_checksum
FROM migrate.status('@testdir@/stamps') s JOIN migrate.migrations m USING (name);

-- replaced by another file with the content recorded, renamed over it
\! printf 'CREATE TABLE stamp_a (id int);\n' > @testdir@/stamps_new/0001_a.sql && mv @testdir@/stamps_new/0001_a.sql @testdir@/stamps/0001_a.sql
SELECT s.name, s.state, s.checksum = m.checksum AS recorded_checksum
FROM migrate.status('@testdir@/stamps') s JOIN migrate.migrations m USING (name);

-- written in place right after the checksums were kept: seen by the next call
SELECT pg_sleep(2.2);
SELECT count(*) FROM migrate.status('@testdir@/stamps');
\! printf 'CREATE TABLE stamp_y (id int);\n' > @testdir@/stamps/0002_b.sql
SELECT s.name, s.state, s.checksum = m.checksum AS recorded_checksum
FROM migrate.status('@testdir@/stamps') s JOIN migrate.migrations m USING (name);

-- Clean up
\! printf 'CREATE TABLE stamp_b (id int);\n' > @testdir@/stamps/0002_b.sql
SELECT name, action FROM migrate.rollback('0001_a');

-- a file that holds several migrations (a Liquibase changelog): each keeps
-- its own checksum, not the first one's of its file
\! rm -rf @testdir@/stamps_lb && mkdir -p @testdir@/stamps_lb
\! printf -- '--liquibase formatted sql\n--changeset ann:1\nCREATE TABLE stamp_lb1 (id int);\n--rollback DROP TABLE stamp_lb1;\n--changeset ann:2\nCREATE TABLE stamp_lb2 (id int);\n--rollback DROP TABLE stamp_lb2;\n' > @testdir@/stamps_lb/001-changelog.sql
SELECT name, action FROM migrate.apply('@testdir@/stamps_lb');
SELECT pg_sleep(2.2);
SELECT s.name, s.state, s.checksum = m.checksum AS recorded_checksum
FROM migrate.status('@testdir@/stamps_lb') s JOIN migrate.migrations m USING (name) ORDER BY name;
-- the same again, from the checksums kept
SELECT s.name, s.state, s.checksum = m.checksum AS recorded_checksum
FROM migrate.status('@testdir@/stamps_lb') s JOIN migrate.migrations m USING (name) ORDER BY name;
SELECT name, action FROM migrate.rollback('001-changelog.sql::1::ann');
SELECT count(*) AS left_recorded FROM migrate.migrations WHERE name LIKE '001-changelog.sql::%';
