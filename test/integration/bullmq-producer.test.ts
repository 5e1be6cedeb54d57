/**
 * docs/QUEUES.md from the producer's side: a producer written as BullMQ's own documentation
 * shows (`new Queue('track-signal', { connection })`, no prefix, no options) reaches workers that
 * run with the default configuration; and the documented job id recipe is accepted by BullMQ for
 * any signal id, where the signal id itself is not.
 */
import { createHash } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { loadConfig } from '../../src/config.ts';
import { replay } from '../../src/replay/replay.ts';
import { createPipelineClient, startInProcessWorkers, type PipelineConfig } from '../support/livePipeline.ts';
import { describeDifference } from '../support/sameOutcomes.ts';
import { redisUrl, useResourceTracker, useTestDatabase } from '../support/services.ts';

const db = useTestDatabase();
const tracker = useResourceTracker();

/** The example payload of docs/QUEUES.md, as printed there. */
const DOC_EXAMPLE: SignalPayload = {
  v: 1,
  id: 'model-a:2024-08-08T23:55:01Z:BTCUSDT',
  symbol: 'BTCUSDT',
  side: 'long',
  createdAt: 1723161301000,
  entry: { type: 'limit', price: 61700 },
  takeProfits: [
    { price: 61900, fraction: 0.5 },
    { price: 62100, fraction: 0.5 },
  ],
  stopLoss: { price: 61550 },
  breakevenAfterTp: 1,
  feeBps: 2.5,
  strategy: 'breakout',
  model: 'gbm',
  modelVersion: '1.1',
  confidence: 0.62,
} as SignalPayload;

/** docs/QUEUES.md's job id recipe. */
function jobIdOf(signalId: string): string {
  return 'sig-' + createHash('sha256').update(signalId, 'utf8').digest('hex');
}

/** The default prefix is shared by every queue of this Redis: these tests leave no key behind. */
async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: 3 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

const DEFAULT_PREFIX = loadConfig({}).QUEUE_PREFIX;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanups.splice(0).reverse()) await close();
  await deleteKeys(DEFAULT_PREFIX);
});

describe('a producer with BullMQ defaults', () => {
  it('submits a signal to workers running the default configuration, and it is tracked to its outcome', async () => {
    const config = loadConfig({});
    expect(config.QUEUE_PREFIX).toBe('bull');
    const cfg: PipelineConfig = {
      redisUrl: redisUrl(),
      databaseUrl: db.url,
      prefix: config.QUEUE_PREFIX,
      shards: config.SHARDS,
      flusher: true,
    };
    const workers = tracker.track(await startInProcessWorkers(cfg), 'workers with the default configuration');
    cleanups.push(() => workers.close());
    const live = tracker.track(createPipelineClient(cfg), 'pipeline client');
    cleanups.push(() => live.close());

    // As BullMQ's documentation writes a producer: a connection and a queue name, nothing else.
    const connection = tracker.redis({}, 'producer connection');
    const producer = tracker.track(new Queue('track-signal', { connection }), 'producer queue');
    cleanups.push(async () => {
      await producer.close();
      await connection.quit();
    });
    await producer.add('signal', DOC_EXAMPLE, { jobId: jobIdOf(DOC_EXAMPLE.id) });
    await live.waitUntilDrained();

    const t = DOC_EXAMPLE.createdAt;
    const ticks: Tick[] = [
      { symbol: 'BTCUSDT', ts: t + 1000, price: 61750 },
      { symbol: 'BTCUSDT', ts: t + 2000, price: 61690 },
      { symbol: 'BTCUSDT', ts: t + 3000, price: 61910 },
      { symbol: 'BTCUSDT', ts: t + 4000, price: 62120 },
    ];
    await live.publishTicks(ticks);
    await live.waitUntilDrained();

    const expected = (await replay({ signals: [DOC_EXAMPLE], ticks })).lines;
    expect(expected[0]).toMatchObject({ id: DOC_EXAMPLE.id, state: 'closed' });
    const actual = await live.collectOutcomes([DOC_EXAMPLE.id]);
    expect(describeDifference(actual, expected)).toBeNull();
  });
});

describe('the job id recipe of docs/QUEUES.md', () => {
  const ids = [DOC_EXAMPLE.id, '1723161301000', 'a:b:c', ':'.repeat(128), 'ünïcödé 信号 🚀', ' '];

  it('is accepted by BullMQ for every id, where the signal id itself is refused', async () => {
    const connection = tracker.redis({}, 'producer connection');
    const queue = tracker.track(new Queue('track-signal', { connection }), 'producer queue');
    cleanups.push(async () => {
      await queue.close();
      await connection.quit();
    });
    // Why the recipe exists: the doc's example id, and an all-digit one, as job ids.
    await expect(queue.add('signal', {}, { jobId: DOC_EXAMPLE.id })).rejects.toThrow(/cannot contain :/);
    await expect(queue.add('signal', {}, { jobId: '1723161301000' })).rejects.toThrow(/cannot be integers/);

    for (const id of ids) {
      const job = await queue.add('signal', { id }, { jobId: jobIdOf(id) });
      expect(job.id, `job id for signal id ${JSON.stringify(id)}`).toBe(jobIdOf(id));
    }
    expect(new Set(ids.map(jobIdOf)).size).toBe(ids.length);
    // A resubmission is dropped by BullMQ: still one job per id.
    await queue.add('signal', { id: DOC_EXAMPLE.id, again: true }, { jobId: jobIdOf(DOC_EXAMPLE.id) });
    expect(await queue.getJobCountByTypes('waiting')).toBe(ids.length);
  });
});
