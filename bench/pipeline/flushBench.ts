/**
 * The flusher draining closed outcomes into PostgreSQL, beside a plain multi-row INSERT of the
 * same rows.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import pg from 'pg';
import type { NormalizedSignal } from '../../machines/signalContext.ts';
import type { OutcomeLine } from '../../machines/types.ts';
import { generateSignals } from '../../src/demo/generateSignals.ts';
import { ShardKeys } from '../../src/names.ts';
import { shardCodec } from '../../src/live/shardCodec.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { validateSignal } from '../../src/validation/validateSignal.ts';
import type { Report } from '../Report.ts';
import { dropPrefix } from './dropPrefix.ts';
import { Fleet } from './Fleet.ts';
import { insertSignals } from './insertSignals.ts';
import { quietLog, scratchDatabase } from './scratchDatabase.ts';
import { seedShards } from './seedShards.ts';
import { say, type Settings } from './settings.ts';
import { SYMBOLS, type TickStreams } from './TickStreams.ts';
import type { ChildMessage } from './worker.ts';

const FLUSH_BATCH_SIZE = 1000; // FLUSH_BATCH_SIZE default

export async function flushBench(
  report: Report,
  set: Settings,
  streams: TickStreams,
  databaseUrl: string,
  base: string,
  redis: Redis,
): Promise<void> {
  if (!existsSync(fileURLToPath(new URL('../../src/live/createFlusher.ts', import.meta.url)))) {
    say('flush: skipped, src/live/createFlusher.ts does not exist yet');
    return;
  }
  const url = process.env.REDIS_URL!;
  const prefix = `${base}flush`;
  // Varied signals (every SPEC feature) on the real paths, each with a time limit and an
  // entry expiry so that all of them close within the ticks applied below.
  const payloads = generateSignals(streams.take(0, SYMBOLS * 20), {
    count: set.flushOutcomes,
    seed: 33,
    prefix: `fl${process.pid}`,
  });
  const signals: NormalizedSignal[] = payloads.map((p) => {
    p.timeLimitMs = Math.min(p.timeLimitMs ?? 30_000, 30_000);
    if (p.entry.type !== 'market')
      p.entryExpiresAt = Math.min(p.entryExpiresAt ?? Infinity, p.createdAt + 30_000);
    const checked = validateSignal(p);
    if (!checked.ok) throw new Error(`flush: generated signal invalid: ${checked.errors.join('; ')}`);
    return checked.signal;
  });
  const db = await scratchDatabase(databaseUrl);
  const client = new pg.Client({ connectionString: db.url });
  try {
    await migrate({ databaseUrl: db.url, log: quietLog });
    await client.connect();
    // The signals are in PostgreSQL before their outcomes (the intake stored them).
    await insertSignals(client, signals);
    const seeded = await seedShards(redis, prefix, set.shards, streams, signals, 200, set.batch, 0);
    if (seeded.outbox !== signals.length) say(`flush: ${seeded.outbox} of ${signals.length} signals closed`);
    // The same rows, written plainly: multi-row INSERTs of FLUSH_BATCH_SIZE outcome rows.
    const bySignal = new Map(signals.map((s) => [s.id, s]));
    const outcomes: OutcomeLine[] = [];
    for (let shard = 0; shard < set.shards; shard++) {
      for (const json of Object.values(await redis.hgetall(new ShardKeys(prefix, shard).outbox))) {
        const entry = shardCodec.decodeOutboxEntry(json);
        if (entry.kind === 'closed') outcomes.push(entry.outcome);
      }
    }
    await client.query('CREATE TABLE bench_raw_outcomes (LIKE signal_outcomes INCLUDING ALL)');
    const at = (ms: number | null | undefined): Date | null =>
      ms === null || ms === undefined ? null : new Date(ms);
    const t0 = performance.now();
    for (let i = 0; i < outcomes.length; i += FLUSH_BATCH_SIZE) {
      const values: unknown[] = [];
      const tuples: string[] = [];
      for (const o of outcomes.slice(i, i + FLUSH_BATCH_SIZE)) {
        const s = bySignal.get(o.id)!;
        const row = [
          o.id,
          at(o.closedAt),
          s.tenant,
          s.symbol,
          s.side,
          s.strategy ?? null,
          s.model ?? null,
          s.modelVersion ?? null,
          s.timeframe ?? null,
          s.confidence ?? null,
          at(s.createdAt),
          o.outcome,
          o.partial ?? false,
          at(o.fill?.ts),
          o.fill?.price ?? null,
          o.holdingMs ?? null,
          o.grossReturn ?? null,
          o.netReturn ?? null,
          o.rMultiple ?? null,
          o.mfe ?? null,
          o.mae ?? null,
          o.stale === true,
          JSON.stringify(o.legs),
        ];
        tuples.push(`(${row.map((_, k) => `$${values.length + k + 1}`).join(',')})`);
        values.push(...row);
      }
      await client.query(
        `INSERT INTO bench_raw_outcomes (signal_id, closed_at, tenant, symbol, side, strategy, model, model_version,
           timeframe, confidence, signal_created_at, outcome, partial, fill_ts, fill_price, holding_ms,
           gross_return, net_return, r_multiple, mfe, mae, stale, legs) VALUES ${tuples.join(',')}`,
        values,
      );
    }
    const raw = outcomes.length / ((performance.now() - t0) / 1000);

    const fleet = await Fleet.spawn(
      [
        {
          mode: 'flush',
          redisUrl: url,
          databaseUrl: db.url,
          prefix,
          shardCount: set.shards,
          batchSize: FLUSH_BATCH_SIZE,
          expect: outcomes.length,
        },
      ],
      set.profile,
      set.childV8,
    );
    let flushed: number;
    try {
      await fleet.until(() => fleet.messages.some((m) => m.e === 'finished'));
      const m = fleet.messages.find(
        (x): x is Extract<ChildMessage, { e: 'finished' }> => x.e === 'finished',
      )!;
      flushed = m.count / ((m.t1 - m.t0) / 1000);
    } finally {
      await fleet.stop();
    }
    const stored = Number((await client.query('SELECT count(*) FROM signal_outcomes')).rows[0].count);
    if (stored !== outcomes.length)
      throw new Error(`flush: ${stored} outcomes stored, expected ${outcomes.length}`);
    report({ name: 'flush.outcomes_per_sec', value: flushed, unit: 'outcomes/s' });
    report({ name: 'flush.raw_insert_rows_per_sec', value: raw, unit: 'rows/s' });
    say(
      `flush: ${outcomes.length} outcomes over ${set.shards} outboxes, FLUSH_BATCH_SIZE ${FLUSH_BATCH_SIZE}; all stored`,
    );
  } finally {
    await client.end().catch(() => {});
    await dropPrefix(redis, prefix);
    await db.drop();
  }
}
