/** PostgreSQL: a scratch database. */
import pg from 'pg';
import { say } from './settings.ts';

/**
 * A database of the run's own (`ot_bench_PID`) on DATABASE_URL's server, or DATABASE_URL's own
 * database when the role may not create one; `drop` removes it (FORCE) if it was created.
 */
export async function scratchDatabase(databaseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `ot_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (err) {
    await admin.end();
    say(`cannot create a scratch database (${String(err)}); using DATABASE_URL's own`);
    return { url: databaseUrl, drop: async () => {} };
  }
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** A logger that drops everything (for `migrate` on a scratch database). */
export const quietLog = { debug() {}, info() {}, warn() {}, error() {} };
