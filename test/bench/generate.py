#!/usr/bin/env python3
"""Write N migrations of M statements each into a folder, plus the same SQL
concatenated in order into one file, for the benchmark.

usage: generate.py FOLDER ALL_SQL N M [kind]
kind "ddl" (default): each migration creates a table of its own and works
on it; kind "rows": every migration inserts into one shared table, so that
the number of catalog objects (and the server's caches) does not grow with N;
kind "seed": seed data, a table and M - 1 single-row INSERTs of about 110
bytes each, as a large data load is usually written.
"""
import os
import sys

folder, all_sql, n, m = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
kind = sys.argv[5] if len(sys.argv) > 5 else "ddl"
os.makedirs(folder, exist_ok=True)


def statements(i):
    if kind == "seed":
        first = f"CREATE TABLE seed_{i} (id int PRIMARY KEY, name text, email text, created_at date);"
        rows = [f"INSERT INTO seed_{i} (id, name, email, created_at) "
                f"VALUES ({k}, 'user {k}', 'user{k}@example.com', '2024-01-01');"
                for k in range(1, m)]
        return [first] + rows
    if kind == "rows":
        first = "CREATE TABLE IF NOT EXISTS bench_rows (id int, note text);"
        rows = [f"INSERT INTO bench_rows VALUES ({i}, 'migration {i} step {k}');"
                for k in range(1, m)]
        return [first] + rows
    table = f"t_{i}"
    pool = [
        f"CREATE TABLE {table} (id serial PRIMARY KEY, name text NOT NULL);",
        f"ALTER TABLE {table} ADD COLUMN created_at timestamptz DEFAULT now();",
        f"CREATE INDEX {table}_name_idx ON {table} (name);",
        f"INSERT INTO {table} (name) VALUES ('a'), ('b'), ('c');",
        f"COMMENT ON TABLE {table} IS 'migration {i}';",
    ]
    extra = [f"UPDATE {table} SET name = name || '{k}';" for k in range(max(0, m - len(pool)))]
    return (pool + extra)[:m]


with open(all_sql, "w") as out:
    for i in range(1, n + 1):
        sql = f"-- migration {i}\n" + "\n".join(statements(i)) + "\n"
        with open(os.path.join(folder, f"{i:05d}_step_{i}.sql"), "w") as f:
            f.write(sql)
        out.write(sql)
