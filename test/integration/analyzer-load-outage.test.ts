/**
 * The analyzer's read (`loadOutcomes`: a binary COPY on a client taken out of the pool) when
 * PostgreSQL ends its connection mid-read, as a restart does: the read fails with a transient
 * error, which the analyze job waits out (docs/OPERATIONS.md "Outages"), and the pool goes on.
 *
 * Context: the fault round of a fresh-clone CI run saw a worker process die of a 57P01 error
 * (`pg-stop-immediate`) that nothing heard, after the read moved to a checked-out client;
 * `loadOutcomes` now listens for 'error' on that client as `inTransaction` does. This test does
 * not reproduce that crash (here the error reaches the COPY in flight, with or without the
 * listener); it checks the outcome the fix is for.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { loadOutcomes } from '../../src/storage/loadOutcomes.ts';
import { isRetryablePgError } from '../../src/storage/retryablePg.ts';
import { useResourceTracker, useTestDatabase } from '../support/services.ts';

const db = useTestDatabase();
const tracker = useResourceTracker();

describe('loadOutcomes when PostgreSQL ends the connection mid-read', () => {
  it('fails with a transient error, and the process hears nothing else', async () => {
    const pool = tracker.pool(db.url);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    // Hold the table, so that the COPY waits on its lock: terminated while it is in flight.
    await admin.query('BEGIN');
    await admin.query('LOCK TABLE signal_outcomes IN ACCESS EXCLUSIVE MODE');
    const read = loadOutcomes(pool, { end: Date.now() }).then(
      () => null,
      (err: unknown) => err,
    );
    // Watched from outside the locking transaction: inside it, pg_stat_activity would show one
    // snapshot, taken at its first read.
    const watcher = new pg.Client({ connectionString: db.url });
    await watcher.connect();
    const waiting = async (): Promise<number | null> =>
      (
        await watcher.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
          [db.name],
        )
      ).rows[0]?.pid ?? null;
    await expect.poll(waiting, { timeout: 10_000 }).not.toBeNull();
    await watcher.query('SELECT pg_terminate_backend($1)', [await waiting()]);
    await watcher.end();
    const err = await read;
    expect(err).toBeInstanceOf(Error);
    expect(isRetryablePgError(err)).toBe(true);
    await admin.query('ROLLBACK');
    await admin.end();
    // The pool goes on with a fresh connection.
    expect((await loadOutcomes(pool, { end: Date.now() })).length).toBe(0);
    await pool.end();
  });
});
