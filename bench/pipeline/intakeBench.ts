/**
 * The intake: track-signal jobs validated, stored in PostgreSQL and forwarded, beside a no-op
 * BullMQ worker with the same job count and concurrency.
 */
import { Queue } from 'bullmq';
import type { ShardJobData } from '../../src/live/messages.ts';
import { Redis } from 'ioredis';
import pg from 'pg';
import { generateSignals } from '../../src/demo/generateSignals.ts';
import { QUEUE_NAMES, shardQueueName } from '../../src/names.ts';
import { migrate } from '../../src/storage/migrate.ts';
import type { Report } from '../Report.ts';
import { dropPrefix } from './dropPrefix.ts';
import { Fleet } from './Fleet.ts';
import { quietLog, scratchDatabase } from './scratchDatabase.ts';
import { say, type Settings } from './settings.ts';
import { SYMBOLS, type TickStreams } from './TickStreams.ts';
import type { ChildMessage } from './worker.ts';

export async function intakeBench(
  report: Report,
  set: Settings,
  streams: TickStreams,
  databaseUrl: string,
  base: string,
  redis: Redis,
): Promise<void> {
  const url = process.env.REDIS_URL!;
  const anchors = streams.take(0, SYMBOLS * 20);
  const payloads = generateSignals(anchors, { count: set.intakeJobs, seed: 21, prefix: `in${process.pid}` });
  const fill = async (prefix: string): Promise<void> => {
    const connection = new Redis(url, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE_NAMES.trackSignal, { connection, prefix });
    for (let i = 0; i < payloads.length; i += 1000) {
      await queue.addBulk(payloads.slice(i, i + 1000).map((data) => ({ name: 'track-signal', data })));
    }
    await queue.close();
    connection.disconnect();
  };
  const measure = async (mode: 'intake' | 'noop-intake', prefix: string, dbUrl: string): Promise<number> => {
    await fill(prefix);
    const fleet = await Fleet.spawn(
      Array.from({ length: set.intakeWorkers }, () => ({
        mode,
        redisUrl: url,
        databaseUrl: dbUrl,
        prefix,
        shardCount: set.shards,
        concurrency: set.intakeConcurrency,
        expect: payloads.length,
      })),
      set.profile && mode === 'intake',
      set.childV8,
    );
    try {
      // The processes share the queue: from the first one's start to the last job anywhere.
      const tallies = (): Extract<ChildMessage, { e: 'tally' }>[] =>
        fleet.messages.filter((x): x is Extract<ChildMessage, { e: 'tally' }> => x.e === 'tally');
      await fleet.until(() => tallies().reduce((a, t) => a + t.n, 0) >= payloads.length);
      const all = tallies();
      const failed = all.reduce((a, t) => a + t.failed, 0);
      if (failed > 0) throw new Error(`${mode}: ${failed} jobs failed`);
      const t0 = Math.min(...all.map((t) => t.t0));
      const t1 = Math.max(...all.map((t) => t.at));
      return payloads.length / ((t1 - t0) / 1000);
    } finally {
      await fleet.stop();
    }
  };
  const db = await scratchDatabase(databaseUrl);
  try {
    await migrate({ databaseUrl: db.url, log: quietLog });
    const noop = await measure('noop-intake', `${base}inoop`, db.url);
    await dropPrefix(redis, `${base}inoop`);
    const real = await measure('intake', `${base}intake`, db.url);
    const forwarded = (
      await Promise.all(
        Array.from({ length: set.shards }, async (_, n) => {
          const q = new Queue<ShardJobData>(shardQueueName(n), {
            connection: redis,
            prefix: `${base}intake`,
          });
          // Signals, not jobs: a batch's signals of one shard travel in one register-batch job.
          const jobs = await q.getWaiting(0, -1);
          await q.close();
          return jobs.reduce(
            (a, j) =>
              a +
              (j.data.kind === 'register' ? 1 : j.data.kind === 'register-batch' ? j.data.signals.length : 0),
            0,
          );
        }),
      )
    ).reduce((a, b) => a + b, 0);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const stored = Number(
      (await client.query(`SELECT count(*) FROM signals WHERE status = 'accepted'`)).rows[0].count,
    );
    await client.end();
    if (stored !== payloads.length || forwarded !== payloads.length) {
      throw new Error(`intake: stored ${stored}, forwarded ${forwarded}, expected ${payloads.length}`);
    }
    report({ name: 'intake.signals_per_sec', value: real, unit: 'signals/s' });
    report({ name: 'intake.bullmq_noop_jobs_per_sec', value: noop, unit: 'jobs/s' });
    say(
      `intake: ${payloads.length} jobs, ${set.intakeWorkers} process(es), concurrency ${set.intakeConcurrency} each, pg pool 10 each; all stored and forwarded`,
    );
  } finally {
    await dropPrefix(redis, `${base}inoop`);
    await dropPrefix(redis, `${base}intake`);
    await db.drop();
  }
}
