// Apply a drizzle-kit folder with drizzle-orm's own migrator, exactly as an
// app calling migrate() at startup would.
//   node migrate.mjs <migrations folder> <database>
// Connects with PGHOST (a socket directory or a host), PGPORT and PGUSER.
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";

const [folder, database] = process.argv.slice(2);
const client = new pg.Client({
  host: process.env.PGHOST,
  port: Number(process.env.PGPORT),
  user: process.env.PGUSER,
  database,
});
await client.connect();
try {
  await migrate(drizzle(client), { migrationsFolder: folder });
} finally {
  await client.end();
}
