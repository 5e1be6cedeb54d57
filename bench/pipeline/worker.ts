/**
 * The worker side of the pipeline group, spawned by `Fleet` (Fleet.ts) as a child process
 * (`node --import tsx`) so that the producer in the parent does not share a core with it. The
 * parent passes one JSON config as argv[2] and talks over the IPC channel:
 *
 * - `shard`: the real tick workers (createShardWorkers) of the given shards; one `done` message
 *   per finished job with its publish time (job.timestamp, set by the producer's addBulk), the
 *   time the worker finished it (checkpoint committed and the job marked completed) and its
 *   tick count.
 * - `noop-shard`: the same queues (global concurrency 1) into workers that only acknowledge.
 * - `intake`: createIntakeWorkers on PostgreSQL; `finished` after `expect` track-signal jobs.
 * - `noop-intake`: a BullMQ worker that only acknowledges, same concurrency, same count.
 * - `flush`: createFlusher draining every shard's outbox; `finished` once they are empty.
 *
 * `stop` (a message) closes everything and replies with this process's CPU time.
 */
import { existsSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { destination, pino } from 'pino';
import { createIntakeWorkers } from '../../src/live/createIntakeWorkers.ts';
import { createShardWorkers } from '../../src/live/createShardWorkers.ts';
import { QUEUE_NAMES, ShardKeys, shardQueueName } from '../../src/names.ts';
import type { ShardJobData } from '../../src/live/messages.ts';
import { createProcessRegistry } from '../../src/telemetry/createProcessRegistry.ts';
import { createWorkerMetrics } from '../../src/telemetry/createWorkerMetrics.ts';

export type ChildConfig =
  | {
      mode: 'shard' | 'noop-shard';
      redisUrl: string;
      prefix: string;
      shards: number[];
      bufferSize: number;
      /** Count into a Prometheus registry as runWorker does (--metrics). */
      metrics?: boolean;
    }
  | {
      mode: 'intake' | 'noop-intake';
      redisUrl: string;
      databaseUrl: string;
      prefix: string;
      shardCount: number;
      concurrency: number;
      expect: number;
    }
  | {
      mode: 'flush';
      redisUrl: string;
      databaseUrl: string;
      prefix: string;
      shardCount: number;
      batchSize: number;
      expect: number;
    };

export type ChildMessage =
  | { e: 'ready'; at: number }
  | { e: 'start'; at: number }
  | { e: 'done'; shard: number; id: string; pub: number; at: number; n: number }
  | { e: 'failed'; shard?: number; id?: string; error: string }
  | { e: 'finished'; t0: number; t1: number; count: number; failed: number }
  /** Intake jobs finished since the last tally (`n`, `failed` of them), the last at `at`. */
  | { e: 'tally'; t0: number; at: number; n: number; failed: number }
  | {
      e: 'cpu';
      cpuMs: number;
      gcMs: number;
      gcMaxMs: number;
      loopMaxMs: number;
      heapMb: number;
      /** Resident set size now, and the largest it has been since the process started. */
      rssMb: number;
      maxRssMb: number;
    }
  | { e: 'stopped'; cpuMs: number };

const cfg = JSON.parse(process.argv[2]!) as ChildConfig;
const send = (m: ChildMessage): void => {
  process.send!(m);
};
const log = pino({ name: `bench-${cfg.mode}`, level: 'warn' }, destination(2));
const connection = new Redis(cfg.redisUrl, { maxRetriesPerRequest: null });
const redis = new Redis(cfg.redisUrl, { maxRetriesPerRequest: null });
let close: () => Promise<void> = async () => {};

function tickCount(job: Job<ShardJobData>): number {
  return job.data.kind === 'ticks' ? job.data.ticks.length : 0;
}

function watchShardWorker(worker: Worker<ShardJobData>, shard: number): void {
  worker.on('completed', (job) => {
    send({ e: 'done', shard, id: job.id!, pub: job.timestamp, at: Date.now(), n: tickCount(job) });
  });
  worker.on('failed', (job, err) => send({ e: 'failed', shard, id: job?.id ?? '?', error: String(err) }));
}

switch (cfg.mode) {
  case 'shard': {
    send({ e: 'start', at: Date.now() });
    const ticks = await createShardWorkers({
      connection,
      redis,
      prefix: cfg.prefix,
      shards: cfg.shards,
      bufferSize: cfg.bufferSize,
      lockDurationMs: 30_000,
      maxStalledCount: 1_000_000,
      log,
      now: Date.now,
      ...(cfg.metrics === true && {
        onCommitted: createWorkerMetrics(createProcessRegistry('worker'), Date.now, cfg.shards)
          .onShardCommitted,
      }),
    });
    ticks.workers.forEach((w, i) => watchShardWorker(w as Worker<ShardJobData>, cfg.shards[i]!));
    close = () => ticks.close();
    break;
  }
  case 'noop-shard': {
    const workers: Worker<ShardJobData>[] = [];
    for (const shard of cfg.shards) {
      const name = shardQueueName(shard);
      const queue = new Queue(name, { connection, prefix: cfg.prefix });
      await queue.setGlobalConcurrency(1);
      await queue.close();
      const worker = new Worker<ShardJobData>(name, async () => null, {
        connection,
        prefix: cfg.prefix,
        concurrency: 1,
      });
      worker.on('error', (err) => log.error({ err }, 'noop worker error'));
      watchShardWorker(worker, shard);
      workers.push(worker);
    }
    close = async () => {
      await Promise.all(workers.map((w) => w.close()));
    };
    break;
  }
  case 'intake':
  case 'noop-intake': {
    let pool: pg.Pool | null = null;
    let worker: Worker;
    let stopIntake: () => Promise<void>;
    const t0 = Date.now();
    if (cfg.mode === 'intake') {
      pool = new pg.Pool({ connectionString: cfg.databaseUrl, max: 10 });
      const intake = createIntakeWorkers({
        connection,
        redis: connection,
        prefix: cfg.prefix,
        pool,
        shards: cfg.shardCount,
        concurrency: cfg.concurrency,
        log,
        now: Date.now,
      });
      worker = intake.workers[0]!;
      stopIntake = () => intake.close();
    } else {
      worker = new Worker(QUEUE_NAMES.trackSignal, async () => null, {
        connection,
        prefix: cfg.prefix,
        concurrency: cfg.concurrency,
      });
      stopIntake = () => worker.close();
    }
    let failed = 0;
    // Tallies rather than a count to reach: with several intake processes each sees only its
    // share. At most every 250 jobs, and 20 ms after the last one.
    const tally = { n: 0, failed: 0, at: 0 };
    let flushTimer: NodeJS.Timeout | null = null;
    const flushTally = (): void => {
      flushTimer = null;
      if (tally.n === 0) return;
      send({ e: 'tally', t0, at: tally.at, n: tally.n, failed: tally.failed });
      tally.n = tally.failed = 0;
    };
    const finish = (jobFailed: boolean): void => {
      tally.n++;
      if (jobFailed) tally.failed++;
      tally.at = Date.now();
      if (tally.n >= 250) flushTally();
      else flushTimer ??= setTimeout(flushTally, 20);
    };
    worker.on('completed', () => finish(false));
    worker.on('failed', (job, err) => {
      failed++;
      if (failed <= 3) send({ e: 'failed', id: job?.id ?? '?', error: String(err) });
      finish(true);
    });
    close = async () => {
      await stopIntake();
      await pool?.end();
    };
    break;
  }
  case 'flush': {
    const file = new URL('../../src/live/createFlusher.ts', import.meta.url);
    if (!existsSync(file)) throw new Error('src/live/createFlusher.ts does not exist');
    // Imported by URL so that this file compiles before the flusher exists.
    const { createFlusher } = (await import(file.href)) as {
      createFlusher: (opts: Record<string, unknown>) => { start(): void; close(): Promise<void> };
    };
    const pool = new pg.Pool({ connectionString: cfg.databaseUrl, max: 10 });
    const keys = Array.from({ length: cfg.shardCount }, (_, s) => new ShardKeys(cfg.prefix, s));
    const t0 = Date.now();
    const flusher = createFlusher({
      redis,
      pool,
      prefix: cfg.prefix,
      shards: cfg.shardCount,
      batchSize: cfg.batchSize,
      intervalMs: 5,
      log,
      now: Date.now,
    });
    flusher.start();
    // Done when every shard's outbox is empty (polled on another connection every 2 ms).
    const probe = new Redis(cfg.redisUrl);
    const poll = async (): Promise<void> => {
      const sizes = await Promise.all(keys.map((k) => probe.hlen(k.outbox)));
      if (sizes.every((n) => n === 0)) {
        send({ e: 'finished', t0, t1: Date.now(), count: cfg.expect, failed: 0 });
        probe.disconnect();
        return;
      }
      setTimeout(() => void poll(), 2);
    };
    void poll();
    close = async () => {
      await flusher.close();
      await pool.end();
    };
    break;
  }
}

// GC pauses and event-loop stalls since the last `cpu` request: where the p99 goes.
let gcMs = 0;
let gcMaxMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcMs += entry.duration;
    gcMaxMs = Math.max(gcMaxMs, entry.duration);
  }
}).observe({ entryTypes: ['gc'] });
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
const cpuMs = (): number => {
  const cpu = process.cpuUsage();
  return (cpu.user + cpu.system) / 1000;
};
process.on('message', (m: { cmd?: string }) => {
  if (m.cmd === 'cpu') {
    send({
      e: 'cpu',
      cpuMs: cpuMs(),
      gcMs,
      gcMaxMs,
      loopMaxMs: loop.max / 1e6,
      heapMb: process.memoryUsage().heapUsed / 1e6,
      rssMb: process.memoryUsage().rss / 1e6,
      maxRssMb: (process.resourceUsage().maxRSS * 1024) / 1e6,
    });
    gcMs = gcMaxMs = 0;
    loop.reset();
  }
  if (m.cmd !== 'stop') return;
  void close().then(() => {
    send({ e: 'stopped', cpuMs: cpuMs() });
    connection.disconnect();
    redis.disconnect();
    process.disconnect();
  });
});
send({ e: 'ready', at: Date.now() });
