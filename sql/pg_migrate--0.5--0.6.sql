\echo Use "ALTER EXTENSION pg_migrate UPDATE TO '0.6'" to load this file. \quit
-- pg_migrate 0.5 -> 0.6: databases of the cluster as tenants and the
-- tenant leftovers (issue 19), and migrated test databases cloned from
-- templates (issue 20).  Each part below is one block.
