/**
 * A shard job that meets a transient Redis error while its worker is shutting down (a deploy
 * during a Redis failover): it is handed back to the head of its queue, not failed. Shard jobs
 * have one attempt, so a failed one would be its ticks or registrations lost.
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createShardWorkers } from '../../src/live/createShardWorkers.ts';
import { toWire } from '../../src/live/messages.ts';
import { createShardQueues } from '../../src/live/shardQueues.ts';
import { appliedTickCount } from '../../src/live/shardStore.ts';
import { ShardKeys } from '../../src/names.ts';
import { quit } from '../support/liveWeb.ts';
import { createReadOnlyRedisUser, useRedisNamespace, useResourceTracker } from '../support/services.ts';

const ns = useRedisNamespace('shard-shutdown');
const tracker = useResourceTracker();
const log = pino({ level: 'silent' });
const T = 1_700_000_000_000;

describe('a shard job when its worker shuts down during a Redis error', () => {
  it('goes back to the head of its queue, and the next worker applies it', async () => {
    // The workers' Redis client may read but not write (as a Redis refusing writes for now):
    // every checkpoint is refused with NOPERM, a transient error to the shard loop.
    const admin = tracker.redis();
    const readOnly = await createReadOnlyRedisUser(admin, 'shard-shutdown');
    try {
      const refused = new Redis(readOnly.url, { maxRetriesPerRequest: null });
      refused.on('error', () => {});
      const connection = tracker.redis({}, 'bullmq connection');
      const options = {
        connection,
        prefix: ns.prefix,
        shards: [0],
        bufferSize: 1000,
        lockDurationMs: 5000,
        maxStalledCount: 1_000_000,
        log,
        now: Date.now,
      };
      const queues = createShardQueues({ connection, prefix: ns.prefix, onError: () => {} });
      // Two jobs in market order: applied the other way round, the first's tick would be late.
      for (const ts of [T, T + 1])
        await queues.add(0, 'ticks', { kind: 'ticks', ticks: [toWire({ symbol: 'SHUT', ts, price: 100 })] });
      const queue = queues.queue(0);
      const [job, next] = (await queue.getJobs(['waiting'])).sort((a, b) => Number(a.id) - Number(b.id));

      const first = await createShardWorkers({ ...options, redis: refused });
      await expect.poll(() => job!.getState(), { timeout: 10_000 }).toBe('active');
      await new Promise((resolve) => setTimeout(resolve, 300)); // a checkpoint or two refused
      await first.close();

      expect(await job!.getState(), 'handed back, not failed').toBe('waiting');
      const second = await createShardWorkers({ ...options, redis: admin });
      await expect.poll(() => next!.getState(), { timeout: 10_000 }).toBe('completed');
      expect(await job!.getState()).toBe('completed');
      expect(await appliedTickCount(admin, new ShardKeys(ns.prefix, 0), 'SHUT'), 'both ticks, in order').toBe(
        2,
      );

      await second.close();
      await queues.close();
      refused.disconnect();
      await quit(connection);
    } finally {
      await readOnly.remove();
      await quit(admin);
    }
  });
});
