/**
 * `npm run bench -- soak [--minutes=30] [--rate=20000] [--sample-seconds=30]
 *  [--warmup-seconds=N] [--signals-per-sec=5] [--shards=8] [--workers=1] [--interval=10]
 *  [--open-signals=0] [--split]`
 *  (--interval: milliseconds between publishes, as the pipeline group's latency bench;
 *  --open-signals: signals that stay open, submitted through `track-signal` before the soak
 *  starts, so that every process is measured beside that many open signals; --split: each
 *  worker serves its own shards, `WORKER_SHARDS` as docs/SCALING.md splits them, instead of
 *  every worker serving every shard)
 *
 * The soak of issue 12: the real processes, as the Procfile starts them (workers/worker.ts
 * ×--workers, workers/flusher.ts, workers/scheduler.ts, each with METRICS_PORT=0, and
 * workers/web.ts on a free port) against
 * the Redis and PostgreSQL of REDIS_URL / DATABASE_URL (private ones when unset), fed real
 * ticks paced at --rate ticks/s for --minutes while signals are submitted at --signals-per-sec,
 * every other batch through `track-signal` and the others through `POST /v1/signals`, so
 * signals open and close all along; one client reads the live stream (`GET /v1/stream`)
 * throughout.
 *
 * Ticks: the IBM trade path of the bundled Lean file replicated for 500 symbols (TickStreams):
 * tick g is at t0 + g ms, its price from the real path, wrapping round it lap after lap, so
 * prices stay real and time keeps increasing. Signals: generateSignals anchored on the ticks
 * just published (their real prices and times), so they trigger, hit levels and expire.
 *
 * Every --sample-seconds: each process's heap used (nodejs_heap_size_used_bytes from its
 * /metrics) and RSS (/proc/PID/status VmRSS), Redis used_memory, shard queue depths (waiting),
 * outbox entries, open signals (HLEN of the shards' signal hashes), ticks/s published and
 * applied. The curve goes to .tmp/soak.csv; the figures compare the first sample after the
 * warm-up (default min(600 s, a third of the run): the recent-tick buffers
 * fill first) with the last.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { generateSignals } from '../src/demo/generateSignals.ts';
import { createTickPublisher } from '../src/live/createTickPublisher.ts';
import { QUEUE_NAMES, shardQueueName, ShardKeys } from '../src/names.ts';
import { countOpenRecords } from '../src/live/shardStore.ts';
import { migrate } from '../src/storage/migrate.ts';
import { insertApiKey } from '../src/storage/insertApiKey.ts';
import { createApiKey } from '../src/web/apiKey.ts';
import { splitShards } from './pipeline/Fleet.ts';
import { farSignals, loadStreams, SYMBOLS, type TickStreams } from './pipeline/TickStreams.ts';
import { scratchDatabase, quietLog } from './pipeline/scratchDatabase.ts';
import { withServices } from './privateServices.ts';
import type { Report } from './Report.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const CSV = '.tmp/soak.csv';
const say = (msg: string): void => void process.stderr.write(`[bench soak] ${msg}\n`);

interface Settings {
  seconds: number;
  rate: number;
  sampleSeconds: number;
  warmupSeconds: number;
  signalsPerSec: number;
  shards: number;
  workers: number;
  intervalMs: number;
  openSignals: number;
  split: boolean;
}

function settings(flags: string[]): Settings {
  const num = (name: string, fallback: number): number => {
    const f = flags.find((x) => x.startsWith(`--${name}=`));
    const v = f === undefined ? fallback : Number(f.slice(name.length + 3));
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
    return v;
  };
  const seconds = num('minutes', 30) * 60;
  return {
    seconds,
    rate: num('rate', 20_000),
    sampleSeconds: num('sample-seconds', 30),
    // At 20,000 ticks/s over 500 symbols the recent-tick buffers (TICK_BUFFER_SIZE 20,000 per
    // symbol) fill in 500 s: Redis and the worker heap grow until then, by design.
    warmupSeconds: num('warmup-seconds', Math.min(600, seconds / 3)),
    signalsPerSec: num('signals-per-sec', 5),
    shards: num('shards', 8),
    workers: num('workers', 1),
    intervalMs: num('interval', 10),
    openSignals: flags.some((x) => x.startsWith('--open-signals=')) ? num('open-signals', 1) : 0,
    split: flags.includes('--split'),
  };
}

interface Proc {
  name: string;
  child: ChildProcess;
  metricsUrl: string;
  /** Sent with each scrape (the web process's /metrics needs a key). */
  headers?: Record<string, string>;
}

interface Sample {
  t: number;
  ticksPerSec: number;
  appliedPerSec: number;
  signalsSubmitted: number;
  openSignals: number;
  closedSignals: number;
  maxShardWaiting: number;
  totalWaiting: number;
  intakeWaiting: number;
  outbox: number;
  redisMb: number;
  heapMb: number[];
  rssMb: number[];
}

export async function run(report: Report, flags: string[]): Promise<void> {
  const set = settings(flags);
  await withServices('soak', say, async (services) => {
    if (!services.private) say('using REDIS_URL / DATABASE_URL: other clients of them add noise');
    const streams = await loadStreams();
    const prefix = `soak${process.pid}`;
    const db = await scratchDatabase(services.databaseUrl);
    await migrate({ databaseUrl: db.url, log: quietLog, retention: { outcomesDays: null, auditDays: null } });
    const redis = new Redis(services.redisUrl, { maxRetriesPerRequest: null });
    const env = {
      REDIS_URL: services.redisUrl,
      DATABASE_URL: db.url,
      QUEUE_PREFIX: prefix,
      SHARDS: String(set.shards),
      MIGRATE_ON_START: 'off',
      LOG_LEVEL: 'info',
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
    };
    const procs: Proc[] = [];
    const queues: Queue[] = [];
    const { key, hash } = createApiKey();
    const keyPool = new pg.Pool({ connectionString: db.url, max: 1 });
    await insertApiKey(keyPool, { tenant: 'soak', scopes: ['submit', 'read'], hash, label: 'soak' });
    await keyPool.end();
    const bearer = { authorization: `Bearer ${key}` };
    const stream = new AbortController();
    // Ctrl-C or SIGTERM: the processes are told to stop at once (never left running), and the
    // run ends through the clean-up below (scratch database and keys dropped); again: exit now.
    const onSignal = (): void => {
      if (interrupted) process.exit(130);
      interrupted = true;
      stopping = true;
      say('interrupted: stopping the processes, then dropping the scratch database and keys');
      for (const p of procs) p.child.kill('SIGTERM');
    };
    // Before withServices' handler, which stops private services and exits.
    process.prependListener('SIGINT', onSignal);
    process.prependListener('SIGTERM', onSignal);
    try {
      const starting = [
        ...(set.split
          ? splitShards(set.shards, set.workers).map((shards, i) =>
              start(`worker${i + 1}`, 'worker', { ...env, WORKER_SHARDS: shards.join(',') }),
            )
          : Array.from({ length: set.workers }, (_, i) => start(`worker${i + 1}`, 'worker', env))),
        start('flusher', 'flusher', env),
        start('scheduler', 'scheduler', env),
        start('web', 'web', { ...env, HTTP_PORT: '0', HTTP_HOST: '127.0.0.1' }, bearer),
      ];
      procs.push(...(await Promise.all(starting)));
      const web = procs.find((p) => p.name === 'web')!.metricsUrl.replace(/\/metrics$/, '');
      const streamed = readStream(`${web}/v1/stream`, bearer, stream.signal);
      say(`started ${procs.map((p) => `${p.name} (pid ${p.child.pid})`).join(', ')}`);
      for (const p of procs)
        p.child.once('exit', (code, signal) => {
          if (!stopping) say(`${p.name} exited (${code ?? signal}) during the soak`);
        });
      const queue = (name: string): Queue => {
        const q = new Queue(name, { connection: redis, prefix });
        q.on('error', (err) => say(`queue ${name}: ${err.message}`));
        queues.push(q);
        return q;
      };
      const intake = queue(QUEUE_NAMES.trackSignal);
      const shardQueues = Array.from({ length: set.shards }, (_, n) => queue(shardQueueName(n)));
      const keys = Array.from({ length: set.shards }, (_, n) => new ShardKeys(prefix, n));
      const publisher = createTickPublisher({
        connection: redis,
        prefix,
        shards: set.shards,
        batchSize: 2000,
        onError: (err) => say(`publisher: ${err.message}`),
      });

      if (set.openSignals > 0) await openFarSignals(set.openSignals, streams, intake, keys, redis);

      let published = 0;
      let submitted = 0;
      let lastSample = { at: performance.now(), published: 0, applied: 0 };
      const samples: Sample[] = [];
      const takeSample = async (): Promise<void> => {
        const now = performance.now();
        const [heap, applied, closed] = await scrape(procs);
        const [rss, waiting, intakeWaiting, outbox, open, redisMb] = await Promise.all([
          Promise.all(procs.map((p) => rssMb(p.child.pid!))),
          Promise.all(shardQueues.map((q) => q.getWaitingCount())),
          intake.getWaitingCount(),
          sum(keys.map((k) => redis.hlen(k.outbox))),
          sum(keys.map((k) => countOpenRecords(redis, k))),
          redis.info('memory').then((s) => Number(/^used_memory:(\d+)/m.exec(s)?.[1]) / 1e6),
        ]);
        const dt = (now - lastSample.at) / 1000;
        const s: Sample = {
          t: Math.round((now - t0) / 1000),
          ticksPerSec: (published - lastSample.published) / dt,
          appliedPerSec: (applied - lastSample.applied) / dt,
          signalsSubmitted: submitted,
          openSignals: open,
          closedSignals: closed,
          maxShardWaiting: Math.max(...waiting),
          totalWaiting: waiting.reduce((a, b) => a + b, 0),
          intakeWaiting,
          outbox,
          redisMb,
          heapMb: heap,
          rssMb: rss,
        };
        lastSample = { at: now, published, applied };
        samples.push(s);
        say(
          `t=${s.t}s ticks/s ${s.ticksPerSec.toFixed(0)} (applied ${s.appliedPerSec.toFixed(0)}), ` +
            `open ${s.openSignals}, closed ${s.closedSignals}, waiting ${s.totalWaiting} (max shard ${s.maxShardWaiting}), ` +
            `outbox ${s.outbox}, redis ${s.redisMb.toFixed(1)} MB, heap ` +
            procs.map((p, i) => `${p.name} ${heap[i]!.toFixed(1)}`).join(' ') +
            ' MB',
        );
      };

      say(
        `${set.seconds / 60} min at ${set.rate} ticks/s, ${set.signalsPerSec} signals/s, ` +
          `${set.shards} shards, sample every ${set.sampleSeconds} s, warm-up ${set.warmupSeconds} s`,
      );
      const t0 = performance.now();
      const [, applied0] = await scrape(procs);
      lastSample = { at: t0, published: 0, applied: applied0 };
      const intervalMs = set.intervalMs;
      let nextSample = set.sampleSeconds * 1000;
      let signalBatch = 0;
      for (let k = 1; ; k++) {
        const elapsed = performance.now() - t0;
        if (elapsed >= set.seconds * 1000) break;
        throwIfInterrupted();
        const due = Math.floor((set.rate * elapsed) / 1000) - published;
        if (due > 0) {
          await publisher.publish(streams.take(published, due));
          published += due;
        }
        // Signals anchored on the ticks just published: created at real prices, "now" in market time.
        const signalsDue = Math.floor((set.signalsPerSec * elapsed) / 1000) - submitted;
        if (signalsDue > 0 && published >= SYMBOLS) {
          const anchors = streams.take(published - SYMBOLS, SYMBOLS);
          const batch = generateSignals(anchors, {
            count: signalsDue,
            seed: 1000 + signalBatch,
            prefix: `k${signalBatch}-`,
          });
          if (signalBatch++ % 2 === 0) await intake.addBulk(batch.map((data) => ({ name: 'signal', data })));
          else await postSignals(web, bearer, batch);
          submitted += signalsDue;
        }
        if (elapsed >= nextSample) {
          await takeSample();
          nextSample += set.sampleSeconds * 1000;
        }
        const wait = t0 + k * intervalMs - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      // The end of the run is a sample too (the loop stops before a sample falls due at its end).
      if (performance.now() - lastSample.at >= (set.sampleSeconds * 1000) / 2) await takeSample();
      await publisher.close();
      const seconds = (performance.now() - t0) / 1000;

      writeCsv(procs, samples);
      say(`curve: ${samples.length} samples in ${CSV}`);
      report({ name: 'soak.target_ticks_per_sec', value: set.rate, unit: 'ticks/s' });
      report({ name: 'soak.ticks_per_sec', value: published / seconds, unit: 'ticks/s' });
      const after = samples.filter((s) => s.t >= set.warmupSeconds);
      const first = after[0];
      const last = after.at(-1);
      if (first === undefined || last === undefined || first === last) {
        say('too few samples after the warm-up for growth figures: run longer or sample more often');
        return;
      }
      report({
        name: 'soak.ticks_applied_per_sec',
        value: after.slice(1).reduce((a, s) => a + s.appliedPerSec, 0) / (after.length - 1),
        unit: 'ticks/s',
      });
      report({ name: 'soak.samples', value: after.length, unit: 'samples' });
      report({ name: 'soak.window_seconds', value: last.t - first.t, unit: 's' });
      procs.forEach((p, i) => {
        report({ name: `soak.heap_first_mb.${p.name}`, value: first.heapMb[i]!, unit: 'MB' });
        report({
          name: `soak.heap_growth_mb.${p.name}`,
          value: last.heapMb[i]! - first.heapMb[i]!,
          unit: 'MB',
        });
        report({
          name: `soak.heap_max_mb.${p.name}`,
          value: Math.max(...after.map((s) => s.heapMb[i]!)),
          unit: 'MB',
        });
        report({ name: `soak.rss_first_mb.${p.name}`, value: first.rssMb[i]!, unit: 'MB' });
        report({ name: `soak.rss_growth_mb.${p.name}`, value: last.rssMb[i]! - first.rssMb[i]!, unit: 'MB' });
      });
      report({ name: 'soak.redis_memory_first_mb', value: first.redisMb, unit: 'MB' });
      report({ name: 'soak.redis_memory_growth_mb', value: last.redisMb - first.redisMb, unit: 'MB' });
      report({
        name: 'soak.max_queue_depth',
        value: Math.max(...after.map((s) => s.maxShardWaiting)),
        unit: 'jobs',
      });
      report({ name: 'soak.last_queue_depth', value: last.totalWaiting, unit: 'jobs' });
      report({ name: 'soak.max_outbox', value: Math.max(...after.map((s) => s.outbox)), unit: 'entries' });
      report({ name: 'soak.open_signals_first', value: first.openSignals, unit: 'signals' });
      report({ name: 'soak.open_signals_last', value: last.openSignals, unit: 'signals' });
      report({ name: 'soak.signals_submitted', value: submitted, unit: 'signals' });
      report({ name: 'soak.signals_closed', value: last.closedSignals, unit: 'signals' });
      stream.abort();
      report({ name: 'soak.stream_events', value: await streamed, unit: 'events' });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      stopping = true;
      stream.abort();
      await Promise.all(procs.map((p) => stop(p.child)));
      await Promise.all(queues.map((q) => q.obliterate({ force: true }).catch(() => {})));
      await Promise.all(queues.map((q) => q.close()));
      await dropKeys(redis, prefix);
      redis.disconnect();
      await db.drop();
      if (interrupted) {
        say('interrupted: cleaned up');
        process.exit(130);
      }
    }
  });
}

let stopping = false;
let interrupted = false;

function throwIfInterrupted(): void {
  if (interrupted) throw new Error('soak interrupted (SIGINT or SIGTERM)');
}

async function sum(xs: Promise<number>[]): Promise<number> {
  return (await Promise.all(xs)).reduce((a, b) => a + b, 0);
}

/** Heap used (MB) of each process; ticks applied and signals closed, summed over the workers. */
async function scrape(procs: Proc[]): Promise<[number[], number, number]> {
  const texts = await Promise.all(
    procs.map((p) => fetch(p.metricsUrl, { headers: p.headers ?? {} }).then((r) => r.text())),
  );
  const total = (text: string, name: string): number => {
    let n = 0;
    for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) n += Number(m[1]);
    return n;
  };
  return [
    texts.map((t) => total(t, 'nodejs_heap_size_used_bytes') / 1e6),
    texts.reduce((a, t) => a + total(t, 'outcome_tracker_ticks_applied_total'), 0),
    texts.reduce((a, t) => a + total(t, 'outcome_tracker_signals_closed_total'), 0),
  ];
}

async function rssMb(pid: number): Promise<number> {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) / 1000;
}

function writeCsv(procs: Proc[], samples: Sample[]): void {
  const head = [
    't_s',
    'ticks_per_sec',
    'applied_per_sec',
    'signals_submitted',
    'open_signals',
    'closed_signals',
    'max_shard_waiting',
    'total_waiting',
    'intake_waiting',
    'outbox',
    'redis_used_mb',
    ...procs.map((p) => `heap_mb_${p.name}`),
    ...procs.map((p) => `rss_mb_${p.name}`),
  ];
  const rows = samples.map((s) =>
    [
      s.t,
      s.ticksPerSec.toFixed(0),
      s.appliedPerSec.toFixed(0),
      s.signalsSubmitted,
      s.openSignals,
      s.closedSignals,
      s.maxShardWaiting,
      s.totalWaiting,
      s.intakeWaiting,
      s.outbox,
      s.redisMb.toFixed(2),
      ...s.heapMb.map((x) => x.toFixed(2)),
      ...s.rssMb.map((x) => x.toFixed(2)),
    ].join(','),
  );
  mkdirSync('.tmp', { recursive: true });
  writeFileSync(CSV, [head.join(','), ...rows].join('\n') + '\n');
}

/**
 * Submits `count` signals whose levels lie far from the price (bench/farSignal.ts: a few near
 * ones close during the soak) through `track-signal`, as a producer would, and waits until the
 * workers hold all of them: they are stored and forwarded by the real intake. They are market
 * signals created before the first tick, so the soak's first tick of each symbol fills all of
 * that symbol's at once (the soak's first minutes are that mass fill).
 */
async function openFarSignals(
  count: number,
  streams: TickStreams,
  intake: Queue,
  keys: ShardKeys[],
  redis: Redis,
): Promise<void> {
  const t = performance.now();
  const signals = farSignals(streams, count, 'open-');
  for (let i = 0; i < signals.length; i += 5000)
    await intake.addBulk(signals.slice(i, i + 5000).map((data) => ({ name: 'signal', data })));
  say(`open signals: ${count} queued in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  let held = 0;
  let progressAt = performance.now();
  while (held < count) {
    await new Promise((resolve) => setTimeout(resolve, 5000));
    throwIfInterrupted();
    const now = await sum(keys.map((k) => countOpenRecords(redis, k)));
    if (now > held) progressAt = performance.now();
    else if (performance.now() - progressAt > 120_000)
      throw new Error(`open signals: stuck at ${held} of ${count} for two minutes`);
    held = now;
    say(`open signals: ${held} of ${count} held by the workers`);
  }
  say(`open signals: ${count} open in ${((performance.now() - t) / 1000).toFixed(0)} s`);
}

/** Submits signals through `POST /v1/signals`, as an HTTP producer does. */
async function postSignals(web: string, bearer: Record<string, string>, signals: unknown[]): Promise<void> {
  const res = await fetch(`${web}/v1/signals`, {
    method: 'POST',
    headers: { ...bearer, 'content-type': 'application/json' },
    body: JSON.stringify({ signals }),
  });
  if (res.status !== 202) say(`POST /v1/signals answered ${res.status}: ${await res.text()}`);
}

/** Reads the live stream until `signal` aborts; resolves with the events read. */
async function readStream(url: string, bearer: Record<string, string>, signal: AbortSignal): Promise<number> {
  let events = 0;
  try {
    const res = await fetch(url, { headers: bearer, signal });
    const decoder = new TextDecoder();
    for await (const chunk of res.body as AsyncIterable<Uint8Array>)
      events += (decoder.decode(chunk, { stream: true }).match(/^data:/gm) ?? []).length;
  } catch (err) {
    if (!signal.aborted) say(`live stream: ${(err as Error).message}`);
  }
  return events;
}

/** The node arguments of a Procfile entry (`worker: node --max-semi-space-size=64 --import tsx …`). */
function procfileArgs(entry: string): string[] {
  const line = readFileSync(new URL('../Procfile', import.meta.url), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${entry}:`));
  const words =
    line
      ?.slice(entry.length + 1)
      .trim()
      .split(/\s+/) ?? [];
  if (words[0] !== 'node') throw new Error(`Procfile: no "${entry}: node …" line`);
  return words.slice(1);
}

/**
 * Spawns a Procfile entry and resolves with its metrics address once it logged its start-up
 * line (the web process: once it listens; its /metrics needs `headers`).
 */
function start(
  name: string,
  entry: string,
  env: Record<string, string>,
  headers?: Record<string, string>,
): Promise<Proc> {
  const child = spawn(process.execPath, procfileArgs(entry), {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let metricsUrl: string | null = null;
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      metricsUrl ??= /"address":"([^"]+)"[^\n]*"msg":"metrics served"/.exec(out)?.[1] ?? null;
      metricsUrl ??= /"msg":"Server listening at (http:[^"]+)"/.exec(out)?.[1] ?? null;
      if (
        metricsUrl !== null &&
        (headers !== undefined || /"msg":"(worker|flusher|scheduler) started"/.test(out))
      ) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        const url = metricsUrl.endsWith('/metrics') ? metricsUrl : `${metricsUrl.replace(/\/$/, '')}/metrics`;
        resolve({ name, child, metricsUrl: url, ...(headers === undefined ? {} : { headers }) });
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it started:\n${out}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

async function dropKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    for (const key of keys) await redis.unlink(key);
    cursor = next;
  } while (cursor !== '0');
}
