/**
 * `npm run demo`: the real pipeline on the bundled real data. scripts/demo.sh provides
 * REDIS_URL and DATABASE_URL (private instances unless given). This starts every Procfile
 * process, submits a few hundred signals (and a few bad payloads) through the `track-signal`
 * queue, feeds the bundled trades through the producer path, waits until every outcome has
 * landed in PostgreSQL, prints a report read back from there, and writes the same analytics as
 * one self-contained HTML file (`report.html`, as `outcome-tracker report` makes it).
 *
 * `--serve` then keeps the processes running, creates an API key through the real key path and
 * prints the dashboard and Bull Board URLs and the key, until Ctrl-C (SIGINT) or SIGTERM; then it
 * stops every process it started (scripts/demo.sh stops the private Redis/PostgreSQL after it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { OutcomeLine, SignalPayload, Tick } from '../../machines/types.ts';
import { loadConfig, requireSettings } from '../config.ts';
import { createTickPublisher } from '../live/createTickPublisher.ts';
import { QUEUE_NAMES, ShardKeys, shardQueueName } from '../names.ts';
import { replay } from '../replay/replay.ts';
import { countOutcomes } from '../storage/countOutcomes.ts';
import { migrate } from '../storage/migrate.ts';
import { readTicks } from '../ticks/readTicks.ts';
import { generateSignals, spreadAnchors } from './generateSignals.ts';
import { printAnalysis, printReport } from './printReport.ts';
import { createAnalyzer } from '../analyzer/createAnalyzer.ts';
import { pino } from 'pino';
import { insertApiKey } from '../storage/insertApiKey.ts';
import { createApiKey } from '../web/apiKey.ts';
import { DASHBOARD_PATH } from '../web/dashboard/dashboardRoutes.ts';
import { writeReport } from '../web/report/writeReport.ts';

const FILES = [
  'data/lean_usequity_IBM_trades_2013-10-07_11.csv.gz',
  'data/binance_spot_BTCUSDT_ETHUSDT_trades_2024-08-08.csv.gz',
];
const SHARDS = 4;
/** The demo's signals name no tenant: they belong to `default` (SPEC.md). */
const DEMO_TENANT = 'default';

const options = parseDemoArgs(process.argv.slice(2));
const env = requireSettings(loadConfig(), 'REDIS_URL', 'DATABASE_URL');
const say = (s: string): void => void process.stdout.write(`\n${s}\n`);
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

say('1/7 migrations');
await migrate({ databaseUrl: env.DATABASE_URL, log: quiet });

const port = await freePort();
const processEnv = {
  ...process.env,
  SHARDS: String(SHARDS),
  HTTP_PORT: String(port),
  LOG_LEVEL: 'warn',
  SWEEP_CRON: '*/5 * * * * *',
  // Some signals arrive after the ticks of their time: the buffer covers the whole demo data,
  // so every one is caught up exactly (a shorter buffer records a catch-up gap instead).
  TICK_BUFFER_SIZE: '200000',
  MIGRATE_ON_START: 'on',
};
const children: ChildProcess[] = [];
const start = (name: string, script: string, extra: Record<string, string> = {}): void => {
  if (!existsSync(script)) {
    process.stdout.write(`   (${name}: ${script} is not there yet, skipped)\n`);
    return;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...processEnv, ...extra },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  process.stdout.write(`   ${name.padEnd(10)} pid ${child.pid}\n`);
};
const stopAll = async (): Promise<void> => {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
        }),
    ),
  );
};
// While the demo runs, Ctrl-C stops it at once; once it serves, Ctrl-C ends the wait below and
// the `finally` stops the processes.
let stopServing: (() => void) | undefined;
const interrupted = (code: number) => (): void => {
  if (stopServing) stopServing();
  else void stopAll().then(() => process.exit(code));
};
process.on('SIGINT', interrupted(130));
process.on('SIGTERM', interrupted(143));

say('2/7 processes (Procfile): two workers sharing the shards, flusher, scheduler, web');
start('worker-a', 'workers/worker.ts', { WORKER_SHARDS: '0-1' });
start('worker-b', 'workers/worker.ts', { WORKER_SHARDS: '2-3' });
start('flusher', 'workers/flusher.ts');
start('scheduler', 'workers/scheduler.ts');
start('web', 'workers/web.ts');

try {
  const connection = new Redis(env.REDIS_URL, { maxRetriesPerRequest: null });
  const pool = new pg.Pool({ connectionString: env.DATABASE_URL });
  const prefix = env.QUEUE_PREFIX;

  const ticksByFile: Tick[][] = [];
  for (const file of FILES) {
    const ticks: Tick[] = [];
    for await (const t of readTicks(file)) ticks.push(t);
    ticksByFile.push(ticks);
  }
  const signals: SignalPayload[] = [
    // Half the signals carry a position value, so that P&L and fees in currency show beside returns.
    ...generateSignals(spreadAnchors(ticksByFile[0]!, 300), {
      count: 300,
      seed: 2013,
      prefix: 'ibm',
      notional: { share: 0.5, values: [5_000, 10_000, 25_000] },
    }),
    ...generateSignals(spreadAnchors(ticksByFile[1]!, 200), {
      count: 200,
      seed: 2024,
      prefix: 'crypto',
      scale: 0.0008,
      notional: { share: 0.5, values: [1_000, 2_500, 10_000] },
    }),
  ];
  const bad: unknown[] = [
    {
      v: 1,
      id: 'bad-1',
      symbol: 'IBM',
      side: 'long',
      createdAt: 1381154400000,
      entry: { type: 'market' },
      stopLos: { price: 170 },
    },
    {
      v: 1,
      id: 'bad-2',
      symbol: 'IBM',
      side: 'short',
      createdAt: 1381154400000,
      entry: { type: 'limit', price: 180 },
      stopLoss: { price: 179 },
    },
    { v: 2, symbol: null, side: 'up' },
  ];

  say(
    `3/7 submitting ${signals.length} signals and ${bad.length} bad payloads through "${QUEUE_NAMES.trackSignal}"`,
  );
  const intake = new Queue(QUEUE_NAMES.trackSignal, { connection, prefix });
  // Every Queue has an error listener (STYLE.md): without one BullMQ prints each reconnection.
  intake.on('error', (err) =>
    process.stderr.write(`demo: ${QUEUE_NAMES.trackSignal} queue: ${err.message}\n`),
  );
  // A third arrive after the ticks of their time have gone by: caught up from the recent-tick buffer.
  const early = signals.filter((_, i) => i % 3 !== 0);
  const late = signals.filter((_, i) => i % 3 === 0);
  await intake.addBulk(
    [...early, ...bad].map((data, i) => ({ name: 'signal', data, opts: { jobId: jobIdOf(data, i) } })),
  );
  await drained(connection, prefix);

  say(`4/7 feeding ${ticksByFile.reduce((n, t) => n + t.length, 0)} real trades through the shard queues`);
  const publisher = createTickPublisher({
    connection,
    prefix,
    shards: SHARDS,
    batchSize: env.TICK_BATCH_SIZE,
  });
  const t0 = Date.now();
  for (const ticks of ticksByFile) {
    const half = Math.floor(ticks.length / 2);
    await publisher.publish(ticks.slice(0, half));
    if (ticks === ticksByFile[ticksByFile.length - 1]) {
      await drained(connection, prefix);
      await intake.addBulk(late.map((data) => ({ name: 'signal', data, opts: { jobId: data.id } })));
      await drained(connection, prefix);
    }
    await publisher.publish(ticks.slice(half));
  }
  await drained(connection, prefix);
  const liveSeconds = (Date.now() - t0) / 1000;
  await publisher.close();

  say('5/7 waiting for the flusher to write every closed outcome to PostgreSQL');
  const expected = (await replay({ signals: [...early, ...bad, ...late], ticks: ticksByFile.flat() })).lines;
  const closedExpected = expected.filter((l) => l.state === 'closed').length;
  // Until every expected outcome is there, or nothing is left anywhere to flush (then the
  // report shows what differs).
  let idleChecks = 0;
  await waitFor(async () => {
    if ((await countOutcomes(pool)) >= closedExpected) return true;
    const pending = await Promise.all(
      Array.from({ length: SHARDS }, (_, n) => connection.hlen(new ShardKeys(prefix, n).outbox)),
    );
    idleChecks = pending.every((x) => x === 0) ? idleChecks + 1 : 0;
    return idleChecks >= 10;
  }, 120_000);

  say('6/7 report (read back from PostgreSQL)');
  await printReport({
    pool,
    expected: expected as OutcomeLine[],
    liveSeconds,
    webUrl: `http://127.0.0.1:${port}`,
  });

  say('7/7 analyzer: metrics and insights per model over all time (what the scheduler runs on ANALYZE_CRON)');
  const analyzer = createAnalyzer({ pool, log: pino({ level: 'silent' }), now: Date.now });
  await printAnalysis(pool, await analyzer.analyze({ window: 'all' }));

  const reportPath = resolve(options.out);
  const written = await writeReport({
    pool,
    filters: { tenant: DEMO_TENANT },
    out: reportPath,
    now: Date.now(),
    sizing: { sizing: env.ANALYZE_SIZING, riskFraction: env.ANALYZE_RISK_FRACTION },
  });
  say(`Report: ${written.outcomes} outcomes, one self-contained file (opens offline): ${reportPath}`);

  if (options.serve) {
    const webUrl = `http://127.0.0.1:${port}`;
    const { key, hash } = createApiKey();
    // The real key path (what `outcome-tracker api-key create` does): only the hash is stored.
    // admin: the same key opens the dashboard (read) and Bull Board (admin).
    await insertApiKey(pool, {
      tenant: DEMO_TENANT,
      scopes: ['read', 'admin'],
      hash,
      label: 'npm run demo -- --serve',
    });
    const stopped = new Promise<void>((done) => (stopServing = done));
    say(
      [
        `Serving (tenant "${DEMO_TENANT}") until Ctrl-C:`,
        `  dashboard   ${webUrl}${DASHBOARD_PATH}`,
        `  Bull Board  ${webUrl}/admin/queues`,
        `  API key     ${key}`,
        '  (paste the key on the sign-in page; for Bull Board it is the password, any user name)',
      ].join('\n'),
    );
    await stopped;
    say('stopping the processes');
  }
  await intake.close();
  await pool.end();
  connection.disconnect();
} finally {
  await stopAll();
}

/** The demo's command line: `--serve`, `--out FILE`; anything else ends the demo with exit code 2. */
function parseDemoArgs(args: string[]): { serve: boolean; out: string } {
  try {
    const { values } = parseArgs({
      args,
      options: {
        serve: { type: 'boolean', default: false },
        out: { type: 'string', default: 'report.html' },
      },
      strict: true,
      allowPositionals: false,
    });
    return { serve: values.serve, out: values.out };
  } catch (err) {
    process.stderr.write(
      `demo: ${(err as Error).message} (usage: npm run demo [-- --serve] [-- --out FILE])\n`,
    );
    process.exit(2);
  }
}

function jobIdOf(data: unknown, i: number): string {
  const id = (data as { id?: unknown }).id;
  return typeof id === 'string' ? id : `anonymous-${i}`;
}

/** Until the intake and every shard queue are empty and idle. */
async function drained(redis: Redis, prefix: string): Promise<void> {
  const names = [
    QUEUE_NAMES.trackSignal,
    QUEUE_NAMES.signalOps,
    ...Array.from({ length: SHARDS }, (_, n) => shardQueueName(n)),
  ];
  const queues = names.map((n) => {
    const q = new Queue(n, { connection: redis, prefix });
    q.on('error', (err) => process.stderr.write(`demo: ${n} queue: ${err.message}\n`));
    return q;
  });
  try {
    await waitFor(async () => {
      for (const q of queues) {
        const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        if ((c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) > 0) return false;
      }
      return true;
    }, 300_000);
  } finally {
    await Promise.all(queues.map((q) => q.close()));
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`demo: timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
