/**
 * What Redis keeps, and whether it keeps it across a restart: finished intake jobs are trimmed
 * to the KEEP_* settings (Bull Board history, not an archive: PostgreSQL holds every
 * submission), and a worker warns at start-up when Redis persists nothing, since a restart
 * would then lose every open signal's checkpoint (docs/OPERATIONS.md "Persistence").
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { warnIfRedisNotPersistent } from '../../src/processes/bootstrap.ts';
import {
  createPipelineClient,
  startInProcessWorkers,
  type PipelineClient,
  type PipelineConfig,
} from '../support/livePipeline.ts';
import { redisUrl, useRedisNamespace, useResourceTracker, useTestDatabase } from '../support/services.ts';

const db = useTestDatabase();
const ns = useRedisNamespace('housekeeping');
const tracker = useResourceTracker();

const T = 1_700_000_000_000;

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

describe('finished intake jobs kept in Redis', () => {
  it('keeps only the KEEP_* number of completed and failed track-signal jobs, while PostgreSQL stores every submission', async () => {
    const cfg: PipelineConfig = { redisUrl: redisUrl(), databaseUrl: db.url, prefix: ns.prefix, shards: 2 };
    const workers = tracker.track(
      await startInProcessWorkers(cfg, {
        retention: { removeOnComplete: { count: 2, age: 3600 }, removeOnFail: { count: 5, age: 3600 } },
      }),
      'in-process workers',
    );
    const live: PipelineClient = tracker.track(createPipelineClient(cfg), 'pipeline client');
    stop = async () => {
      await workers.close();
      await live.close();
    };

    const signal = (id: string, side = 'long') => ({
      v: 1,
      id,
      symbol: 'ABC',
      side,
      createdAt: T,
      entry: { type: 'market' },
    });
    const accepted = Array.from({ length: 10 }, (_, i) => signal(`ok-${i}`));
    const rejected = Array.from({ length: 8 }, (_, i) => signal(`bad-${i}`, 'sideways'));
    await live.submitSignals([...accepted, ...rejected]);
    await live.waitUntilDrained();

    expect(await live.trackSignal.getJobCounts('completed', 'failed'), 'track-signal jobs kept').toEqual({
      completed: 2,
      failed: 5,
    });
    const { rows } = await live.db.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM signals GROUP BY status ORDER BY status`,
    );
    expect(rows, 'signals rows: every submission').toEqual([
      { status: 'accepted', n: 10 },
      { status: 'rejected', n: 8 },
    ]);
  });
});

describe('warnIfRedisNotPersistent', () => {
  /** A logger whose warnings the test reads. */
  function capturingLogger() {
    const lines: { level: number; msg: string; appendonly?: string; save?: string }[] = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    return { log, warnings: () => lines.filter((l) => l.level === 40) };
  }

  it('warns when Redis has neither AOF nor RDB snapshots, and is quiet with appendonly on', async () => {
    const redis = tracker.redis({}, 'redis for CONFIG');
    // The test Redis is shared: read its settings, and put them back whatever happens.
    const [, appendonly] = (await redis.config('GET', 'appendonly')) as [string, string];
    const [, save] = (await redis.config('GET', 'save')) as [string, string];
    try {
      await redis.config('SET', 'appendonly', 'no');
      await redis.config('SET', 'save', '');
      const none = capturingLogger();
      expect(await warnIfRedisNotPersistent(redis, none.log), 'no AOF, no RDB: warned').toBe(true);
      expect(none.warnings(), 'the warning').toEqual([
        expect.objectContaining({
          appendonly: 'no',
          save: '',
          msg: expect.stringContaining('neither AOF nor RDB persistence'),
        }),
      ]);

      await redis.config('SET', 'appendonly', 'yes');
      const aof = capturingLogger();
      expect(await warnIfRedisNotPersistent(redis, aof.log), 'AOF on: not warned').toBe(false);
      expect(aof.warnings(), 'warnings with AOF on').toEqual([]);
    } finally {
      await redis.config('SET', 'save', save);
      await redis.config('SET', 'appendonly', appendonly);
      const ended = new Promise((resolve) => redis.once('end', resolve));
      await redis.quit();
      await ended;
    }
  });
});
