\echo Use "ALTER EXTENSION pg_migrate UPDATE TO '0.5'" to load this file. \quit
-- pg_migrate 0.4 -> 0.5: runs the server owns (detached runs, their
-- progress and resume), safe lock defaults, tenants, and the command's
-- whole surface (issue 19).  Each part below is one block.
