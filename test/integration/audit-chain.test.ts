/**
 * The tamper-evident audit log on a real PostgreSQL: the chain trigger links every row to the one
 * before it per tenant, whatever path inserts it and however many transactions write at once;
 * verify-audit finds a row changed, removed or inserted by a superuser, naming the first bad one;
 * the migration chains rows that were there before it.
 */
import { runner } from 'node-pg-migrate';
import type pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { verifyAudit } from '../../src/audit/verifyAudit.ts';
import { verifyAuditCommand } from '../../src/cli/verifyAuditCommand.ts';
import type { OutcomeLine, SignalPayload } from '../../machines/types.ts';
import { generateSignals, spreadAnchors } from '../../src/demo/generateSignals.ts';
import { replaySync } from '../../src/replay/replay.ts';
import { inTransaction } from '../../src/storage/inTransaction.ts';
import type { Queryable } from '../../src/storage/Queryable.ts';
import { recordAccepted } from '../../src/storage/recordAccepted.ts';
import { writeOutboxBatch } from '../../src/storage/writeOutboxBatch.ts';
import { validateSignal } from '../../src/validation/validateSignal.ts';
import { readDataTicks } from '../support/dataFile.ts';
import { migrate, MIGRATIONS_DIR, MIGRATIONS_TABLE } from '../../src/storage/migrate.ts';
import { isRetryablePgError } from '../../src/storage/retryablePg.ts';
import { captureIo } from '../support/captureIo.ts';
import { silentLog, useResourceTracker, useTestDatabase, withTestDatabase } from '../support/services.ts';

const EVENTS = ['accepted', 'rejected', 'amended', 'cancelled', 'closed', 'op_rejected'] as const;

/** Inserts one audit row for `tenant` the way the storage code does (no chain columns given). */
async function insertAudit(db: pg.ClientBase | pg.Pool, tenant: string | null, n: number): Promise<string> {
  const res = await db.query<{ id: string }>(
    `INSERT INTO audit_logs (at, signal_id, tenant, event, details)
     VALUES (timestamptz '2026-11-01T00:00:00Z' + $3 * interval '1 second', $1, $2, $4, $5) RETURNING id::text`,
    [`sig-${n}`, tenant, n, EVENTS[n % EVENTS.length], JSON.stringify({ n, note: `row ${n} é "q"` })],
  );
  return res.rows[0]!.id;
}

interface ChainRow {
  id: string;
  chain_seq: string;
}

async function chainOf(db: pg.ClientBase, tenant: string): Promise<ChainRow[]> {
  return (
    await db.query<ChainRow>(
      `SELECT id::text, chain_seq::text FROM audit_logs a WHERE tenant = $1 ORDER BY a.chain_seq, a.id`,
      [tenant],
    )
  ).rows;
}

async function runVerify(
  url: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { io, stdout, stderr } = captureIo();
  const code = await verifyAuditCommand(args, io, { DATABASE_URL: url });
  return { code, stdout: stdout(), stderr: stderr() };
}

/** Runs `fn` as a superuser who switched the append-only trigger off, and back on after. */
async function asTamperer(client: pg.ClientBase, fn: () => Promise<unknown>): Promise<void> {
  await client.query('ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_no_update_delete');
  try {
    await fn();
  } finally {
    await client.query('ALTER TABLE audit_logs ENABLE TRIGGER audit_logs_no_update_delete');
  }
}

/**
 * Stores 24 generated signals of `tenant` as accepted, anchored on the bundled IBM trades, and
 * answers them with the outcomes of those that close there (the production engine's replay).
 */
async function storeClosingSignals(
  pool: pg.Pool,
  tenant: string,
  prefix: string,
): Promise<{ signals: SignalPayload[]; closed: OutcomeLine[] }> {
  const ticks = await readDataTicks('lean_usequity_IBM_trades_2013-10-07_11.csv.gz');
  const signals = generateSignals(spreadAnchors(ticks, 24), { count: 24, seed: 5, prefix }).map((s) => ({
    ...s,
    tenant,
  }));
  for (const payload of signals) {
    const checked = validateSignal(payload);
    if (!checked.ok) throw new Error(`generated signal ${payload.id} is invalid`);
    await recordAccepted(pool, checked.signal, payload, null);
  }
  const closed = replaySync({ signals, ticks }).lines.filter((l): l is OutcomeLine => l.state === 'closed');
  expect(closed.length).toBeGreaterThan(5);
  return { signals, closed };
}

/** One INSERT of the rows numbered `ns`, row i of `tenants[i]`, as the flusher and the intake write. */
async function insertRows(client: pg.ClientBase, ns: number[], tenants: (string | null)[]): Promise<void> {
  await client.query(
    `INSERT INTO audit_logs (at, signal_id, tenant, event, details)
     SELECT timestamptz '2026-11-01T00:00:00Z' + x.n * interval '1.000001 second', 'sig-' || x.n, x.tenant,
            'closed', jsonb_build_object('n', x.n)
     FROM unnest($1::int[], $2::text[]) WITH ORDINALITY AS x (n, tenant, o) ORDER BY x.o`,
    [ns, tenants],
  );
}

/** Each chain's head row against its last row: the same after every statement. */
async function expectHeadsAgree(client: pg.ClientBase, chains: number): Promise<void> {
  const { rows } = await client.query<{ tenant: string | null; head: string; last: string }>(
    `SELECT h.tenant, h.head_seq || ' ' || h.head_hash || ' ' || h.head_at AS head,
            a.chain_seq || ' ' || a.row_hash || ' ' || a.at AS last
     FROM audit_chain_heads h
     JOIN LATERAL (SELECT * FROM audit_logs a WHERE a.tenant IS NOT DISTINCT FROM h.tenant
                   ORDER BY a.chain_seq DESC LIMIT 1) a ON true`,
  );
  expect(rows).toHaveLength(chains);
  for (const row of rows) expect(row.head, `head of ${row.tenant}`).toBe(row.last);
}

/** Each chain's rows hold positions 1..n, none twice. */
async function expectPositions(client: pg.ClientBase, tenants: (string | null)[]): Promise<void> {
  for (const tenant of tenants) {
    const seqs = (
      await client.query<{ chain_seq: string }>(
        'SELECT chain_seq::text FROM audit_logs a WHERE tenant IS NOT DISTINCT FROM $1 ORDER BY a.chain_seq, a.id',
        [tenant],
      )
    ).rows.map((r) => Number(r.chain_seq));
    expect(seqs, `${tenant}: positions 1..n, none twice`).toEqual(seqs.map((_, i) => i + 1));
  }
}

describe('audit chain', () => {
  const db = useTestDatabase();
  const resources = useResourceTracker();

  it('keeps one unbroken chain per tenant with many concurrent writers, each transaction writing several tenants', async () => {
    const pool = resources.pool(db.url);
    const tenants = ['c-alpha', 'c-beta', 'c-gamma', 'c-delta'];
    let n = 0;
    let retries = 0;
    // 8 writers × 12 transactions, each inserting 1–4 rows for random tenants in random order:
    // transactions that lock two tenants in opposite orders deadlock, and one is retried.
    const writer = async (w: number): Promise<void> => {
      for (let t = 0; t < 12; t++) {
        const picks = Array.from(
          { length: 1 + ((w + t) % 4) },
          (_, i) => tenants[(w * 7 + t * 3 + i * 5) % 4]!,
        );
        for (;;) {
          const client = await pool.connect();
          try {
            await client.query('BEGIN');
            for (const tenant of picks) await insertAudit(client, tenant, n++);
            await client.query('COMMIT');
            client.release();
            break;
          } catch (err) {
            await client.query('ROLLBACK').catch(() => {});
            client.release();
            if (!isRetryablePgError(err)) throw err;
            retries++;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
    await pool.end();

    const client = await resources.client(db.url);
    for (const tenant of tenants) {
      const seqs = (await chainOf(client, tenant)).map((r) => Number(r.chain_seq));
      expect(seqs.length, `rows of ${tenant}`).toBeGreaterThan(0);
      expect(seqs, `${tenant}: positions 1..n, none twice`).toEqual(seqs.map((_, i) => i + 1));
      const result = await verifyAudit({ db: client, tenant, pageSize: 7 });
      expect(result.problems, `${tenant} (retried ${retries} deadlocked transactions)`).toEqual([]);
      expect(result.chains).toHaveLength(1);
      expect(result.chains[0]).toMatchObject({
        tenant,
        rows: seqs.length,
        headSeq: seqs.length,
        start: null,
      });
    }
    await client.end();
  });

  it('chains the rows of many-row statements across statements of one transaction; a savepoint rolled back takes its rows and its heads back', async () => {
    await withTestDatabase(resources, async (fresh) => {
      const client = await resources.client(fresh.url);
      // A tenant with a space in it, one without, and the chain of rows without a tenant.
      const tenants = ['m tenant', 'm-two', null];
      let n = 0;
      /** One INSERT of `count` rows, the tenants in turn by row number. */
      const statement = (count: number): Promise<void> => {
        const batch = Array.from({ length: count }, () => n++);
        return insertRows(
          client,
          batch,
          batch.map((k) => tenants[k % 3]!),
        );
      };

      await client.query('BEGIN');
      await statement(30);
      await expectHeadsAgree(client, 3);
      await client.query('SAVEPOINT undone');
      await statement(12);
      await expectHeadsAgree(client, 3);
      await client.query('ROLLBACK TO SAVEPOINT undone');
      await expectHeadsAgree(client, 3);
      await statement(9);
      await insertAudit(client, 'm-two', 1000);
      await statement(1);
      await client.query('COMMIT');
      await expectHeadsAgree(client, 3);
      // The next transaction starts from the committed heads.
      await statement(7);
      await expectHeadsAgree(client, 3);

      await expectPositions(client, tenants);
      // 30 + 9 + 1 + 7 rows of the statements (the 12 rolled back), and the single row.
      const result = await verifyAudit({ db: client });
      expect(result.problems).toEqual([]);
      expect(result.chains.map((c) => [c.tenant, c.rows, c.headSeq])).toEqual([
        [null, 15, 15],
        ['m tenant', 16, 16],
        ['m-two', 17, 17],
      ]);
      await client.end();
    });
  });

  it('chains more tenants than the trigger has slots for them, their rows alternating within and across statements and savepoints', async () => {
    await withTestDatabase(resources, async (fresh) => {
      const client = await resources.client(fresh.url);
      // Nine tenants, and the chain without one, whose transaction-local heads all start from one
      // of the trigger's 256 settings and may take the eight from there on (migration …0013): ten
      // chains for eight slots, so rows keep taking a slot from another chain.
      const home = (await client.query<{ slot: number }>(`SELECT hashtext('n') & 255 AS slot`)).rows[0]!.slot;
      const { rows } = await client.query<{ tenant: string }>(
        `SELECT 'slot ' || g AS tenant FROM generate_series(1, 40000) g
         WHERE hashtext('tslot ' || g) & 255 = $1 ORDER BY g LIMIT 9`,
        [home],
      );
      const tenants = [...rows.map((r) => r.tenant), null];
      expect(tenants).toHaveLength(10);
      /** The running heads the eight slots hold now. */
      const slots = async (): Promise<string[]> =>
        (
          await client.query<{ v: string | null }>(
            `SELECT current_setting('outcome_tracker.audit_head_' || lpad((($1::int + i) & 255)::text, 3, '0'), true) AS v
             FROM generate_series(0, 7) i ORDER BY i`,
            [home],
          )
        ).rows.map((r) => r.v ?? '');
      let n = 0;
      /** One INSERT of `count` rows, the tenants of `order` in turn. */
      const statement = (count: number, order = tenants): Promise<void> => {
        const batch = Array.from({ length: count }, () => n++);
        return insertRows(
          client,
          batch,
          batch.map((_, i) => order[i % order.length]!),
        );
      };

      await client.query('BEGIN');
      await statement(2, [tenants[0]!]); // one chain moved past its first row: its head waits for the statement
      await statement(45);
      const held = await slots();
      expect(held.filter((v) => v !== '').length, 'all eight slots hold a chain').toBe(8);
      expect(new Set(held).size, 'eight different ones').toBe(8);
      await expectHeadsAgree(client, 10);
      await client.query('SAVEPOINT undone');
      await statement(10, [tenants[1]!, tenants[1]!, tenants[9]!, tenants[8]!]);
      await client.query('ROLLBACK TO SAVEPOINT undone');
      await expectHeadsAgree(client, 10);
      await statement(12, [tenants[8]!, tenants[8]!, tenants[0]!, tenants[9]!]);
      await insertAudit(client, tenants[1]!, 1000);
      await statement(31);
      await client.query('COMMIT');
      await expectHeadsAgree(client, 10);
      await statement(25);
      await expectHeadsAgree(client, 10);

      await expectPositions(client, tenants);
      const result = await verifyAudit({ db: client });
      expect(result.problems).toEqual([]);
      // 2 + 45 + 12 + 31 + 25 rows of the statements (the 10 rolled back), and the single row.
      expect(result.chains.reduce((sum, c) => sum + c.rows, 0)).toBe(116);
      await client.end();
    });
  });

  it('many writers of many-row statements on shared tenants keep one unbroken chain each', async () => {
    const pool = resources.pool(db.url);
    const tenants = ['s-alpha', 's-beta', 's-gamma'];
    let n = 0;
    // 6 writers × 8 transactions of two statements each, 1–6 rows a statement over the tenants:
    // each transaction continues the chains the one before it committed.
    const writer = async (w: number): Promise<void> => {
      for (let t = 0; t < 8; t++) {
        await inTransaction(pool, async (client) => {
          // As the flusher does: its tenants' chains first, in one order (no deadlocks).
          await client.query('SELECT audit_chain_lock($1::text[])', [tenants]);
          for (let s = 0; s < 2; s++) {
            const batch = Array.from({ length: 1 + ((w + t + s) % 6) }, () => n++);
            await client.query(
              `INSERT INTO audit_logs (at, signal_id, tenant, event)
               SELECT now(), 'sig-' || x.n, x.tenant, 'closed'
               FROM unnest($1::int[], $2::text[]) WITH ORDINALITY AS x (n, tenant, o) ORDER BY x.o`,
              [batch, batch.map((i) => tenants[(i + w) % 3])],
            );
          }
        });
      }
    };
    await Promise.all(Array.from({ length: 6 }, (_, w) => writer(w)));
    await pool.end();

    const client = await resources.client(db.url);
    for (const tenant of tenants) {
      const seqs = (await chainOf(client, tenant)).map((r) => Number(r.chain_seq));
      expect(seqs, `${tenant}: positions 1..n, none twice`).toEqual(seqs.map((_, i) => i + 1));
      const result = await verifyAudit({ db: client, tenant, pageSize: 7 });
      expect(result.problems, tenant).toEqual([]);
      expect(result.chains[0]).toMatchObject({ tenant, rows: seqs.length, headSeq: seqs.length });
    }
    await client.end();
  });

  it("a flush batch holds its tenants' chains only for its audit rows: the same tenant's writers are not held out of its claims and outcome rows", async () => {
    const pool = resources.pool(db.url);
    const { signals, closed } = await storeClosingSignals(pool, 'c-flush', 'lock');

    // Another writer for the same tenant, which would wait for the chain: a lock wait fails it.
    const other = await resources.client(db.url);
    await other.query(`SET lock_timeout = '2s'`);
    const statements: string[] = [];
    const attempts: { before: string; error: unknown }[] = [];
    const result = await inTransaction(pool, (client) => {
      const watched: Queryable = {
        query: (async (config: string | { text: string }, values?: unknown[]) => {
          const text = typeof config === 'string' ? config : config.text;
          statements.push(text.replace(/\s+/g, ' ').trim());
          // While the batch writes its outcome rows and its legs, before its audit rows.
          if (/^\s*INSERT INTO (signal_outcomes|tp_sl_hits)/.test(text)) {
            const error = await insertAudit(other, 'c-flush', 5000 + attempts.length).then(
              () => null,
              (err: unknown) => err,
            );
            attempts.push({ before: text.trim().split(/\s+/)[2]!, error });
          }
          return client.query(config as string, values);
        }) as Queryable['query'],
      };
      return writeOutboxBatch(
        watched,
        closed.map((outcome) => ({ symbol: 'IBM', outcome })),
        [],
      );
    });
    expect(result.written).toHaveLength(closed.length);
    expect(attempts.map((a) => a.before)).toEqual(['signal_outcomes', 'tp_sl_hits']);
    expect(attempts.map((a) => a.error)).toEqual([null, null]);
    // The chains are taken after the claims and outcome rows, right before the audit rows.
    expect(statements.at(-2)).toMatch(/^SELECT audit_chain_lock\(/);
    expect(statements.at(-1)).toMatch(/^INSERT INTO audit_logs /);

    const result2 = await verifyAudit({ db: other, tenant: 'c-flush' });
    expect(result2.problems).toEqual([]);
    // Their accepted rows, the other writer's two, the batch's closed rows.
    expect(result2.chains[0]).toMatchObject({ rows: signals.length + 2 + closed.length });
    await other.end();
    await pool.end();
  });

  it("a flush batch's closed audit rows carry their signal's tenant, also for an outcome row that was there before its claim", async () => {
    const pool = resources.pool(db.url);
    const { closed } = await storeClosingSignals(pool, 'c-again', 'again');
    const batch = closed.map((outcome) => ({ symbol: 'IBM', outcome }));
    await inTransaction(pool, (client) => writeOutboxBatch(client, batch, []));
    // Its claim gone (by hand: the flusher never removes one), the outcome row stays: the batch
    // claims the signal again, its outcome row is not written twice, its tenant is looked up.
    const again = closed[0]!.id!;
    await pool.query('DELETE FROM closed_signals WHERE signal_id = $1', [again]);
    const result = await inTransaction(pool, (client) => writeOutboxBatch(client, batch, []));
    expect(result.written).toEqual([again]);
    const { rows } = await pool.query<{ tenant: string | null; n: number }>(
      `SELECT tenant, count(*)::int AS n FROM audit_logs WHERE signal_id = $1 AND event = 'closed' GROUP BY tenant`,
      [again],
    );
    expect(rows).toEqual([{ tenant: 'c-again', n: 2 }]);
    expect((await verifyAudit({ db: pool, tenant: 'c-again' })).problems).toEqual([]);
    await pool.end();
  });

  it('two transactions that take their tenants with audit_chain_lock, in opposite orders, queue instead of deadlocking', async () => {
    const a = await resources.client(db.url);
    const b = await resources.client(db.url);
    await a.query('BEGIN');
    await a.query(`SELECT audit_chain_lock(ARRAY['x-one', 'x-two'])`);
    await insertAudit(a, 'x-one', 1);
    const other = (async () => {
      await b.query('BEGIN');
      await b.query(`SELECT audit_chain_lock(ARRAY['x-two', 'x-one'])`);
      await insertAudit(b, 'x-two', 2);
      await insertAudit(b, 'x-one', 3);
      await b.query('COMMIT');
    })();
    await insertAudit(a, 'x-two', 4);
    await a.query('COMMIT');
    await other;
    for (const tenant of ['x-one', 'x-two'])
      expect((await verifyAudit({ db: a, tenant })).chains[0]).toMatchObject({ rows: 2, headSeq: 2 });
    await a.end();
    await b.end();
  });

  it('sets the chain columns itself: values an INSERT gives for them are overwritten', async () => {
    const client = await resources.client(db.url);
    await insertAudit(client, 'c-given', 1);
    const res = await client.query<{ chain_seq: string; prev_hash: string }>(
      `INSERT INTO audit_logs (at, tenant, event, chain_seq, prev_hash, row_hash)
       VALUES (now(), 'c-given', 'accepted', 1, 'forged', 'forged') RETURNING chain_seq::text, prev_hash`,
    );
    expect(res.rows[0]!.chain_seq).toBe('2');
    expect(res.rows[0]!.prev_hash).toMatch(/^[0-9a-f]{64}$/);
    expect((await verifyAudit({ db: client, tenant: 'c-given' })).problems).toEqual([]);
    await client.end();
  });

  it('under REPEATABLE READ, a writer whose snapshot predates the head gets a retryable serialization failure, not a fork', async () => {
    const a = await resources.client(db.url);
    const b = await resources.client(db.url);
    await insertAudit(a, 'c-rr', 1);
    await a.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await a.query('SELECT count(*) FROM audit_chain_heads'); // takes the snapshot
    await insertAudit(b, 'c-rr', 2); // autocommit: the head moves after a's snapshot
    const failed = await insertAudit(a, 'c-rr', 3).then(
      () => null,
      (err: unknown) => err,
    );
    await a.query('ROLLBACK');
    expect((failed as { code?: string } | null)?.code).toBe('40001');
    expect(isRetryablePgError(failed)).toBe(true);
    await insertAudit(a, 'c-rr', 3);
    expect((await chainOf(a, 'c-rr')).map((r) => r.chain_seq)).toEqual(['1', '2', '3']);
    expect((await verifyAudit({ db: a, tenant: 'c-rr' })).problems).toEqual([]);
    await a.end();
    await b.end();
  });

  it('verify-audit exits 0 on an intact log and prints each chain with its head', async () => {
    await withTestDatabase(resources, async (fresh) => {
      const client = await resources.client(fresh.url);
      for (let i = 0; i < 5; i++) await insertAudit(client, i % 2 === 0 ? 'acme' : null, i);
      await client.end();
      const run = await runVerify(fresh.url, []);
      expect(run.stderr).toBe('verify-audit: intact: 2 chain(s), 5 rows\n');
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(
        /^ok {6}tenant \(no tenant\): 2 rows intact, positions 1–2, head [0-9a-f]{64}\n/,
      );
      expect(run.stdout).toMatch(/\nok {6}tenant "acme": 3 rows intact, positions 1–3, head [0-9a-f]{64}\n$/);
      const json = await runVerify(fresh.url, ['--json', '--tenant', 'acme']);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({ intact: true, retentionHorizon: null, problems: [] });
    });
  });

  describe('verify-audit with PostgreSQL unreachable', () => {
    afterEach(() => vi.unstubAllEnvs());

    it('exits 1 with one line naming PostgreSQL and its host, never the password', async () => {
      vi.stubEnv('DATABASE_URL', 'postgres://user:s3cret@127.0.0.1:1/outcome_tracker');
      const { io, stdout, stderr } = captureIo();
      expect(await main(['verify-audit'], io)).toBe(1);
      expect(stdout()).toBe('');
      expect(stderr()).toBe(
        'verify-audit: cannot reach PostgreSQL at postgres://127.0.0.1:1/outcome_tracker: connect ECONNREFUSED 127.0.0.1:1\n',
      );
    });
  });

  describe('a superuser who switches the append-only trigger off is caught', () => {
    /** A chain of five rows for `tenant`; their ids in chain order. */
    async function fiveRows(client: pg.ClientBase, tenant: string): Promise<string[]> {
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push(await insertAudit(client, tenant, 100 + i));
      return ids;
    }

    async function problemOf(client: pg.ClientBase, tenant: string) {
      const { problems } = await verifyAudit({ db: client, tenant });
      expect(problems, 'exactly one problem reported').toHaveLength(1);
      return problems[0]!;
    }

    it('UPDATE of a row: that row is named as changed, by the CLI too (exit 3)', async () => {
      const client = await resources.client(db.url);
      const ids = await fiveRows(client, 't-update');
      await asTamperer(client, () =>
        client.query(`UPDATE audit_logs SET details = '{"n": 999}' WHERE id = $1`, [ids[2]]),
      );
      expect(await problemOf(client, 't-update')).toMatchObject({
        kind: 'changed',
        id: ids[2],
        chainSeq: 3,
        tenant: 't-update',
      });
      const run = await runVerify(db.url, ['--tenant', 't-update']);
      expect(run.code).toBe(3);
      expect(run.stdout).toContain(
        `BROKEN  tenant "t-update" position 3 at 2026-11-01T00:01:42.000Z: row id ${ids[2]} does not match its hash`,
      );
      await client.end();
    });

    it('UPDATE of a row that also recomputes its hash: the next row is named, its link broken', async () => {
      const client = await resources.client(db.url);
      const ids = await fiveRows(client, 't-rehash');
      await asTamperer(client, () =>
        client.query(
          `UPDATE audit_logs SET details = '{"n": 999}',
             row_hash = audit_chain_hash(prev_hash, audit_chain_text(chain_seq, id, at, recorded_at, tenant,
               signal_id, event, '{"n": 999}'::jsonb, prev_at))
           WHERE id = $1`,
          [ids[2]],
        ),
      );
      expect(await problemOf(client, 't-rehash')).toMatchObject({
        kind: 'relinked',
        id: ids[3],
        chainSeq: 4,
      });
      await client.end();
    });

    it('DELETE of a row: the row after the gap is named, the missing position given', async () => {
      const client = await resources.client(db.url);
      const ids = await fiveRows(client, 't-delete');
      await asTamperer(client, () => client.query('DELETE FROM audit_logs WHERE id = $1', [ids[1]]));
      const problem = await problemOf(client, 't-delete');
      expect(problem).toMatchObject({ kind: 'removed', id: ids[2], chainSeq: 3 });
      expect(problem.message).toContain('chain position 2 is missing');
      await client.end();
    });

    it('DELETE of the last row: the chain ends before its head', async () => {
      const client = await resources.client(db.url);
      const ids = await fiveRows(client, 't-tail');
      await asTamperer(client, () => client.query('DELETE FROM audit_logs WHERE id = $1', [ids[4]]));
      expect(await problemOf(client, 't-tail')).toMatchObject({ kind: 'head', chainSeq: 5 });
      await client.end();
    });

    it('INSERT of a forged row with every trigger off, at a position taken: named as inserted', async () => {
      const client = await resources.client(db.url);
      const ids = await fiveRows(client, 't-forge');
      await client.query('BEGIN');
      await client.query('SET LOCAL session_replication_role = replica');
      const forged = await client.query<{ id: string }>(
        `INSERT INTO audit_logs (at, tenant, event, details, chain_seq, prev_at, prev_hash, row_hash)
         SELECT at, tenant, 'cancelled', '{}', chain_seq, prev_at, prev_hash, row_hash
         FROM audit_logs WHERE id = $1 RETURNING id::text`,
        [ids[2]],
      );
      await client.query('COMMIT');
      const problem = await problemOf(client, 't-forge');
      expect(problem).toMatchObject({ kind: 'inserted', id: forged.rows[0]!.id, chainSeq: 3 });
      expect(problem.message).toContain(`after id ${ids[2]}`);
      await client.end();
    });

    it('INSERT of a row with the chain trigger off and no chain columns: found as outside every chain', async () => {
      const client = await resources.client(db.url);
      await fiveRows(client, 't-stray');
      await client.query('ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_chain');
      let stray: string;
      try {
        stray = await insertAudit(client, 't-stray', 999);
      } finally {
        await client.query('ALTER TABLE audit_logs ENABLE TRIGGER audit_logs_chain');
      }
      expect(await problemOf(client, 't-stray')).toMatchObject({ kind: 'unchained', id: stray });
      await client.end();
    });
  });

  it('the migration chains the rows already there, per tenant in id order, and new rows continue each chain', async () => {
    await withTestDatabase(
      resources,
      async (fresh) => {
        const client = await resources.client(fresh.url);
        // Every migration before the chain's.
        await runner({
          dbClient: client,
          dir: MIGRATIONS_DIR,
          migrationsTable: MIGRATIONS_TABLE,
          direction: 'up',
          count: 8,
          checkOrder: true,
          logger: { debug() {}, info() {}, warn() {}, error() {} },
        });
        expect((await client.query(`SELECT to_regclass('audit_chain_heads') AS t`)).rows[0].t).toBeNull();
        const before: { id: string; tenant: string | null }[] = [];
        for (let i = 0; i < 9; i++) {
          const tenant = [null, 'old-a', 'old-b'][i % 3]!;
          before.push({ id: await insertAudit(client, tenant, i), tenant });
        }
        await migrate({ databaseUrl: fresh.url, log: silentLog });

        for (const tenant of ['old-a', 'old-b']) {
          expect(await chainOf(client, tenant)).toEqual(
            before.filter((r) => r.tenant === tenant).map((r, i) => ({ id: r.id, chain_seq: String(i + 1) })),
          );
        }
        const heads = await client.query(
          `SELECT tenant, head_seq::int FROM audit_chain_heads ORDER BY tenant NULLS FIRST`,
        );
        expect(heads.rows).toEqual([
          { tenant: null, head_seq: 3 },
          { tenant: 'old-a', head_seq: 3 },
          { tenant: 'old-b', head_seq: 3 },
        ]);
        expect((await verifyAudit({ db: client })).problems).toEqual([]);

        await insertAudit(client, 'old-a', 100);
        await insertAudit(client, null, 101);
        const after = await verifyAudit({ db: client });
        expect(after.problems).toEqual([]);
        expect(after.chains.map((c) => [c.tenant, c.rows])).toEqual([
          [null, 4],
          ['old-a', 4],
          ['old-b', 3],
        ]);
        await client.end();
      },
      { migrated: false },
    );
  });
});
