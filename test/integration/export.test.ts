/**
 * `outcome-tracker export` against the live pipeline (intake and shard workers in this
 * process, real Redis and PostgreSQL): whatever stage each signal is at (flushed to
 * PostgreSQL, waiting in an outbox, open in a checkpoint, never registered, rejected), the
 * export equals what `replay` prints for the same signals, ticks and operations.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { outcomeLine } from '../../machines/outcomeLine.ts';
import type { Tick } from '../../machines/types.ts';
import { exportCommand } from '../../src/cli/exportCommand.ts';
import type { CliIo } from '../../src/cli/CliIo.ts';
import { createFlusher } from '../../src/live/createFlusher.ts';
import { ShardKeys, shardOf } from '../../src/names.ts';
import { shardCodec } from '../../src/live/shardCodec.ts';
import { replaySync } from '../../src/replay/replay.ts';
import { recordAccepted } from '../../src/storage/recordAccepted.ts';
import { validateSignal } from '../../src/validation/validateSignal.ts';
import {
  createPipelineClient,
  mergeByTime,
  startInProcessWorkers,
  testLogger,
  type PipelineConfig,
} from '../support/livePipeline.ts';
import { redisUrl, useRedisNamespace, useResourceTracker, useTestDatabase } from '../support/services.ts';

const SHARDS = 4;
const T = 1_700_000_000_123;

function capture(): { io: CliIo; stdout: () => string; stderr: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (c: Buffer) => out.push(c.toString()));
  stderr.on('data', (c: Buffer) => err.push(c.toString()));
  return {
    io: { stdin: new PassThrough(), stdout, stderr },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

const tick = (symbol: string, dt: number, price: number): Tick => ({ symbol, ts: T + dt, price });

/**
 * A: a return-table exit with slippage, notional and fees, flushed (ROI_EXIT, pnl and fees go
 * through PostgreSQL); B: partial TP then manual exit, with a notional, left in the outbox; C: open; D: pending; R: invalid; E: accepted, never registered. */
const PAYLOADS = [
  {
    v: 1,
    id: 'A',
    symbol: 'XA',
    side: 'long',
    createdAt: T,
    entry: { type: 'market' },
    roi: [{ afterMs: 0, returnBps: 1000 }],
    stopLoss: { price: 90 },
    slippageBps: 10,
    feeBps: 4,
    notional: 5000,
    strategy: 'trend',
  },
  {
    v: 1,
    id: 'B',
    symbol: 'XB',
    side: 'short',
    createdAt: T,
    entry: { type: 'limit', price: 100 },
    takeProfits: [
      { price: 80, fraction: 0.5 },
      { price: 70, fraction: 0.5 },
    ],
    stopLoss: { price: 120 },
    feeBps: 2,
    notional: 250,
  },
  {
    v: 1,
    id: 'C',
    symbol: 'XC',
    side: 'long',
    createdAt: T,
    entry: { type: 'market' },
    takeProfits: [{ price: 200, fraction: 1 }],
    stopLoss: { price: 50 },
  },
  { v: 1, id: 'D', symbol: 'XD', side: 'long', createdAt: T, entry: { type: 'limit', price: 10 } },
  { v: 1, id: 'R', symbol: 'XR', side: 'sideways', createdAt: T, entry: { type: 'market' } },
  { v: 1, id: 'E', symbol: 'XE', side: 'long', createdAt: T, entry: { type: 'market' } },
];
const TICKS_A = [tick('XA', 1, 100), tick('XA', 2, 111)];
const TICKS_REST = [
  tick('XB', 1, 99),
  tick('XB', 2, 101),
  tick('XB', 3, 79),
  tick('XC', 1, 100),
  tick('XC', 2, 120),
  tick('XC', 3, 80),
  tick('XC', 4, 110),
  tick('XD', 1, 100),
];
const OPS = [{ op: 'exit', id: 'B', ts: T + 4 }];

describe('export', () => {
  const db = useTestDatabase();
  const ns = useRedisNamespace('export');
  const resources = useResourceTracker();

  it('prints every signal as replay would, from PostgreSQL, the outboxes and the checkpoints, in received order', async () => {
    const cfg: PipelineConfig = {
      redisUrl: redisUrl(),
      databaseUrl: db.url,
      prefix: ns.prefix,
      shards: SHARDS,
    };
    // One intake job at a time: signals.seq then follows the submission order.
    const workers = resources.track(await startInProcessWorkers(cfg, { intakeConcurrency: 1 }), 'workers');
    const client = resources.track(createPipelineClient(cfg), 'pipeline client');
    const pool = resources.pool(db.url);
    const flusher = resources.track(
      createFlusher({
        redis: client.redis,
        pool,
        prefix: ns.prefix,
        shards: SHARDS,
        batchSize: 100,
        intervalMs: 50,
        log: testLogger(),
        now: Date.now,
      }),
      'flusher',
    );

    await client.submitSignals(PAYLOADS.slice(0, 5), { attempts: 1 });
    await client.waitUntilDrained();
    await client.publishTicks(TICKS_A);
    await client.waitUntilDrained();
    // A's outcome, into PostgreSQL (with the events of its fill and legs, which are published).
    const pendingA = await client.outbox();
    expect(pendingA.filter((r) => r.entry.kind !== 'event').map((r) => r.key)).toEqual(['closed:A']);
    expect(await flusher.flushOnce()).toBe(pendingA.length);
    await client.publishTicks(TICKS_REST);
    await client.waitUntilDrained();
    await client.submitOps(OPS, { attempts: 1 });
    await client.waitUntilDrained();
    const e = validateSignal(PAYLOADS[5]);
    if (!e.ok) throw new Error('E must be valid');
    await recordAccepted(pool, e.signal, PAYLOADS[5], null);

    // Where each one is now.
    const outbox = await client.outbox();
    expect(outbox.filter((r) => r.entry.kind === 'closed').map((r) => r.key)).toEqual(['closed:B']);
    expect((await pool.query('SELECT signal_id FROM signal_outcomes')).rows).toEqual([{ signal_id: 'A' }]);

    const { io, stdout, stderr } = capture();
    const env = {
      REDIS_URL: redisUrl(),
      DATABASE_URL: db.url,
      QUEUE_PREFIX: ns.prefix,
      SHARDS: String(SHARDS),
    };
    expect(await exportCommand([], io, env)).toBe(0);
    const exported = stdout().trimEnd().split('\n');

    const replayed = replaySync({
      signals: PAYLOADS,
      ticks: mergeByTime(TICKS_A, TICKS_REST),
      ops: OPS,
    }).lines.map((l) => JSON.stringify(l));
    expect(exported).toEqual(replayed);
    expect(exported.map((l) => JSON.parse(l).state)).toEqual([
      'closed',
      'closed',
      'open',
      'pending',
      'rejected',
      'pending',
    ]);
    expect(JSON.parse(exported[0]!)).toMatchObject({ outcome: 'ROI_EXIT', legs: [{ reason: 'ROI' }] });
    expect(JSON.parse(exported[0]!)).toHaveProperty('pnl');
    expect(JSON.parse(exported[0]!)).toHaveProperty('fees');
    expect(JSON.parse(exported[1]!)).toMatchObject({ outcome: 'MANUAL_EXIT', partial: true });
    expect(JSON.parse(exported[1]!)).toHaveProperty('pnl');
    expect(stderr()).toBe('export: 6 signals (2 closed, 1 open, 2 pending, 1 rejected)\n');

    // C's checkpoint alone lags: its excursions after the fill never reached it as an event.
    // The export folds its symbol's index in, as a worker restoring the shard would.
    const raw = await client.redis.hget(new ShardKeys(ns.prefix, shardOf('XC', SHARDS)).bucketOf('C'), 'C');
    const lagging = outcomeLine(shardCodec.decodeRecord(raw!).context);
    expect(lagging.mfe).not.toBe(JSON.parse(exported[2]!).mfe);
    expect(JSON.parse(exported[2]!)).toMatchObject({ mfe: 0.2, mae: -0.2 });

    // --out writes the same lines to a file.
    const dir = await mkdtemp(join(tmpdir(), 'ot-export-'));
    try {
      const file = join(dir, 'out.jsonl');
      const second = capture();
      expect(await exportCommand(['--out', file], second.io, env)).toBe(0);
      expect(second.stdout()).toBe('');
      expect((await readFile(file, 'utf8')).trimEnd().split('\n')).toEqual(replayed);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    // Flushed or not, an outcome reads the same: B and the exit's result go to PostgreSQL.
    const pendingB = await client.outbox();
    expect(pendingB.filter((r) => r.entry.kind !== 'event')).toHaveLength(2);
    expect(await flusher.flushOnce()).toBe(pendingB.length);
    expect(await client.outbox()).toEqual([]);
    const third = capture();
    expect(await exportCommand([], third.io, env)).toBe(0);
    expect(third.stdout().trimEnd().split('\n')).toEqual(replayed);

    await flusher.close();
    await client.close();
    await workers.close();
    await pool.end();
  });

  it('names the missing settings', async () => {
    const { io } = capture();
    await expect(exportCommand([], io, { REDIS_URL: redisUrl() })).rejects.toThrow(
      /missing configuration: DATABASE_URL/,
    );
    await expect(exportCommand(['extra'], io, {})).rejects.toThrow(/no arguments/);
    const unreachable = { REDIS_URL: redisUrl(), DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
    await expect(exportCommand([], io, unreachable)).rejects.toThrow();
  });
});
