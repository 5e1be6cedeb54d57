import { readdir } from 'node:fs/promises';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCOPES } from '../../src/names.ts';
import { migrate, MIGRATIONS_DIR, MIGRATIONS_TABLE } from '../../src/storage/migrate.ts';
import {
  createTestDatabase,
  databaseUrl,
  silentLog,
  useResourceTracker,
  useTestDatabase,
  type TestDatabase,
} from '../support/services.ts';
import {
  DAILY_EXPECTED,
  DAILY_FIXTURE,
  DAILY_OUTCOMES_COLUMNS,
  DAILY_QUERY,
  INSERT_OUTCOME,
  outcomeParams,
  type OutcomeFixture,
} from '../support/dailyOutcomes.ts';

/** Tables the design requires; later migrations may add more. */
const TABLES = [
  'audit_logs',
  'closed_signals',
  'performance_insights',
  'performance_metrics',
  'signal_outcomes',
  'signals',
  'tp_sl_hits',
];

async function migrationNames(): Promise<string[]> {
  return (await readdir(MIGRATIONS_DIR))
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => f.replace(/\.sql$/, ''));
}

/** Everything a migration could change, as comparable text. */
async function schemaFingerprint(client: pg.Client): Promise<string> {
  const queries = [
    `SELECT table_name, column_name, data_type, is_nullable, column_default
     FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2`,
    `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`,
    `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
     WHERE connamespace = 'public'::regnamespace ORDER BY 1`,
    `SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`,
    `SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`,
  ];
  const parts = [];
  for (const q of queries) parts.push(await client.query(q));
  return JSON.stringify(parts.map((p) => p.rows));
}

async function timescaleAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl() });
  await client.connect();
  try {
    const { rows } = await client.query("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'");
    return rows.length > 0;
  } finally {
    await client.end();
  }
}

// This file tests the plain-PostgreSQL path; on a server with TimescaleDB the tests that depend on
// its absence are skipped (migrate.timescale.test.ts covers that path).
const TIMESCALE_AVAILABLE = await timescaleAvailable();

describe('migrate() on an empty database', () => {
  const resources = useResourceTracker();
  const created: TestDatabase[] = [];
  const emptyDatabase = async (): Promise<TestDatabase> => {
    const db = await createTestDatabase({ migrated: false });
    created.push(db);
    return db;
  };
  afterAll(async () => {
    await Promise.all(created.map((db) => db.drop()));
  });

  it('applies every migration file in order and creates all tables', async () => {
    const db = await emptyDatabase();

    const applied = await migrate({ databaseUrl: db.url, log: silentLog });

    expect(applied).toEqual(await migrationNames());
    const client = await resources.client(db.url);
    const { rows } = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables
       WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> $1 ORDER BY 1`,
      [MIGRATIONS_TABLE],
    );
    expect(rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(TABLES));
    await client.end();
  });

  it('is idempotent: a second run applies nothing and leaves the schema unchanged', async () => {
    const db = await emptyDatabase();
    await migrate({ databaseUrl: db.url, log: silentLog });
    const client = await resources.client(db.url);
    const before = await schemaFingerprint(client);

    const again = await migrate({ databaseUrl: db.url, log: silentLog });

    expect(again).toEqual([]);
    expect(await schemaFingerprint(client)).toBe(before);
    await client.end();
  });

  it('lets concurrent migrate() calls all succeed and applies each migration exactly once', async () => {
    const db = await emptyDatabase();
    const expected = await migrationNames();

    // node-pg-migrate alone would fail all but one with "Another migration is already running".
    const results = await Promise.all(
      Array.from({ length: 4 }, () => migrate({ databaseUrl: db.url, log: silentLog })),
    );

    expect(results.flat().sort()).toEqual(expected);
    expect(results.filter((r) => r.length > 0)).toHaveLength(1);
    const client = await resources.client(db.url);
    const { rows } = await client.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`);
    expect(rows.map((r) => r.name)).toEqual(expected);
    await client.end();
  });

  it('keeps the first of a webhook attempt recorded twice before …0014, and its Down takes the key back', async () => {
    const db = await emptyDatabase();
    await migrate({ databaseUrl: db.url, log: silentLog });
    const client = await resources.client(db.url);
    const down = (count: number) =>
      runner({
        dbClient: client,
        dir: MIGRATIONS_DIR,
        migrationsTable: MIGRATIONS_TABLE,
        direction: 'down',
        count,
        singleTransaction: true,
        logger: { debug() {}, info() {}, warn() {}, error() {} },
      });
    // Down to just before …0014 (the migrations after it, if any, first).
    const names = await migrationNames();
    await down(names.length - names.findIndex((n) => n.endsWith('_webhook-attempt-once')));
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO webhooks (tenant, url, secret) VALUES ('acme', 'http://127.0.0.1/hook', 'a secret of some length') RETURNING id`,
    );
    const attempt = (delivery: string, n: number, status: number) =>
      client.query(
        `INSERT INTO webhook_deliveries (webhook_id, delivery_id, event_key, event_type, attempt, status_code, duration_ms)
         VALUES ($1, $2, 'k', 'signal.accepted', $3, $4, 1)`,
        [rows[0]!.id, delivery, n, status],
      );
    // As the worker recorded them: a retried insert, and a delivery run again after a stall.
    await attempt('d1', 1, 500);
    await attempt('d1', 1, 500);
    await attempt('d1', 2, 200);
    await attempt('d2', 1, 503);
    await attempt('d2', 1, 200);

    await migrate({ databaseUrl: db.url, log: silentLog });

    const kept = await client.query(
      'SELECT delivery_id, attempt, status_code FROM webhook_deliveries ORDER BY delivery_id, attempt',
    );
    expect(kept.rows).toEqual([
      { delivery_id: 'd1', attempt: 1, status_code: 500 },
      { delivery_id: 'd1', attempt: 2, status_code: 200 },
      { delivery_id: 'd2', attempt: 1, status_code: 503 },
    ]);
    await expect(attempt('d2', 1, 200)).rejects.toThrow(/webhook_deliveries_attempt_key/);
    await down(names.length - names.findIndex((n) => n.endsWith('_webhook-attempt-once')));
    await attempt('d2', 1, 200);
    await client.end();
  });

  it.skipIf(TIMESCALE_AVAILABLE)(
    'takes the plain path without TimescaleDB: no extension, daily_outcomes is a plain view',
    async () => {
      const db = await emptyDatabase();
      await migrate({ databaseUrl: db.url, log: silentLog });
      const client = await resources.client(db.url);

      const ext = await client.query("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'");
      const rel = await client.query<{ relkind: string }>(
        "SELECT relkind FROM pg_class WHERE oid = 'daily_outcomes'::regclass",
      );

      expect(ext.rows).toEqual([]);
      expect(rel.rows).toEqual([{ relkind: 'v' }]);
      await client.end();
    },
  );

  it.skipIf(TIMESCALE_AVAILABLE)(
    'fails with a clear message when TimescaleDB is required but missing',
    async () => {
      const db = await emptyDatabase();
      const admin = await resources.client();
      await admin.query(`ALTER DATABASE "${db.name}" SET outcome_tracker.timescaledb = 'on'`);
      await admin.end();

      await expect(migrate({ databaseUrl: db.url, log: silentLog })).rejects.toThrow(
        /timescaledb extension is not available/,
      );
    },
  );
});

describe('schema on plain PostgreSQL', () => {
  const database = useTestDatabase();
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: database.url, application_name: 'migrate.test schema' });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
  });

  it('keeps audit_logs append-only: UPDATE, DELETE and TRUNCATE are refused', async () => {
    await client.query(
      `INSERT INTO audit_logs (at, signal_id, tenant, event, details)
       VALUES ('2025-01-01T00:00:00Z', 's-audit', 'default', 'accepted', '{}')`,
    );

    await expect(
      client.query("UPDATE audit_logs SET event = 'closed' WHERE signal_id = 's-audit'"),
    ).rejects.toThrow(/append-only: UPDATE/);
    await expect(client.query("DELETE FROM audit_logs WHERE signal_id = 's-audit'")).rejects.toThrow(
      /append-only: DELETE/,
    );
    await expect(client.query('TRUNCATE audit_logs')).rejects.toThrow(/append-only: TRUNCATE/);
    const { rows } = await client.query("SELECT event FROM audit_logs WHERE signal_id = 's-audit'");
    expect(rows).toEqual([{ event: 'accepted' }]);
  });

  it('stores rejected operations as op_rejected audit rows with their reasons', async () => {
    await client.query(
      `INSERT INTO audit_logs (at, signal_id, tenant, event, details) VALUES ($1, $2, $3, 'op_rejected', $4)`,
      [
        new Date(1_700_000_000_000),
        'unknown-signal',
        null,
        { op: { op: 'cancel', id: 'unknown-signal', ts: 1_700_000_000_000 }, errors: ['unknown signal'] },
      ],
    );
    const { rows } = await client.query(
      "SELECT details->'errors' AS errors FROM audit_logs WHERE event = 'op_rejected' AND signal_id = 'unknown-signal'",
    );
    expect(rows).toEqual([{ errors: ['unknown signal'] }]);
  });

  it('keeps one accepted signal per id, while rejected payloads may lack an id or repeat one', async () => {
    const accept = (id: string) =>
      client.query(
        `INSERT INTO signals (id, status, tenant, symbol, side, created_at, payload, normalized)
         VALUES ($1, 'accepted', 'default', 'BTCUSD', 'long', now(), $2, $2)
         ON CONFLICT (id) WHERE status = 'accepted' DO NOTHING`,
        [id, { id }],
      );
    const reject = (id: string | null) =>
      client.query(`INSERT INTO signals (id, status, payload, errors) VALUES ($1, 'rejected', $2, $3)`, [
        id,
        { id },
        JSON.stringify(['duplicate id']),
      ]);

    expect((await accept('sig-1')).rowCount).toBe(1);
    expect((await accept('sig-1')).rowCount).toBe(0);
    await reject('sig-1');
    await reject('sig-1');
    await reject(null);

    const { rows } = await client.query(
      "SELECT status, count(*)::int AS n FROM signals WHERE id = 'sig-1' OR id IS NULL GROUP BY status ORDER BY status",
    );
    expect(rows).toEqual([
      { status: 'accepted', n: 1 },
      { status: 'rejected', n: 3 },
    ]);
    await expect(
      client.query(`INSERT INTO signals (id, status, payload) VALUES (NULL, 'accepted', '{}')`),
    ).rejects.toThrow(/signals_accepted_complete/);
  });

  it('lets an API key hold the scopes the code knows, and no other', async () => {
    const insert = (scopes: string[]) =>
      client.query(`INSERT INTO api_keys (tenant, scopes, hash) VALUES ('ops', $1, $2) RETURNING scopes`, [
        scopes,
        Buffer.alloc(32, scopes.length),
      ]);
    expect((await insert([...SCOPES])).rows).toEqual([{ scopes: [...SCOPES] }]);
    expect((await insert(['metrics'])).rows).toEqual([{ scopes: ['metrics'] }]);
    await expect(insert(['read', 'write'])).rejects.toThrow(/api_keys_scopes_check/);
    await expect(insert([])).rejects.toThrow(/api_keys_scopes_check/);
  });

  it('writes an outcome once per signal through the closed_signals ledger', async () => {
    const flush = async () => {
      await client.query('BEGIN');
      const claimed = await client.query(
        `INSERT INTO closed_signals (signal_id, closed_at) VALUES ('sig-o', '2025-01-01T10:00:00Z')
         ON CONFLICT (signal_id) DO NOTHING RETURNING signal_id`,
      );
      if (claimed.rowCount === 1) {
        await insertOutcome(client, {
          signalId: 'sig-o',
          closedAt: '2025-01-01T10:00:00Z',
          outcome: 'TP_HIT',
        });
      }
      await client.query('COMMIT');
    };

    await flush();
    await flush();

    const { rows } = await client.query(
      "SELECT count(*)::int AS n FROM signal_outcomes WHERE signal_id = 'sig-o'",
    );
    expect(rows).toEqual([{ n: 1 }]);
  });

  it('offers daily_outcomes with the same columns as the continuous aggregate', async () => {
    const { rows } = await client.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns
       WHERE table_name = 'daily_outcomes' ORDER BY ordinal_position`,
    );
    expect(rows.map((r) => [r.column_name, r.data_type])).toEqual(DAILY_OUTCOMES_COLUMNS);
  });

  it('aggregates outcomes per UTC day and grouping keys in daily_outcomes', async () => {
    await insertDailyFixture(client, 'daily');

    const { rows } = await client.query(DAILY_QUERY, ['daily']);

    expect(rows).toEqual(DAILY_EXPECTED);
  });

  it('only warns about retention on plain PostgreSQL, and still validates it', async () => {
    const notices: string[] = [];
    const onNotice = (n: { message?: string }) => notices.push(n.message ?? '');
    client.on('notice', onNotice);
    await client.query("SELECT outcome_tracker_set_retention(INTERVAL '400 days', INTERVAL '10 years')");
    client.off('notice', onNotice);

    expect(notices.join('\n')).toMatch(/retention needs TimescaleDB/);
    await expect(
      client.query("SELECT outcome_tracker_set_retention(INTERVAL '7 days', NULL)"),
    ).rejects.toThrow(/longer than 30 days/);
  });
});

async function insertOutcome(client: pg.Client, o: OutcomeFixture): Promise<void> {
  await client.query(INSERT_OUTCOME, outcomeParams(o));
}

async function insertDailyFixture(client: pg.Client, tenant: string): Promise<void> {
  for (const row of DAILY_FIXTURE) await insertOutcome(client, { ...row, tenant });
}
