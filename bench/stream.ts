/**
 * `npm run bench -- stream [--clients=1000] [--rate=1000] [--seconds=20]`
 *
 * `stream.outcome_to_client_p99_ms`: how long a `signal.closed` event takes from its
 * publication to the events stream (what the flusher does right after PostgreSQL commits the
 * batch) to an SSE client, with `--clients` clients connected to one web process (the
 * production route, its one XREAD reader fanned out) while `--rate` events a second are
 * published through `publishEvents`, in batches every 10 ms as the flusher would, by a process
 * of its own (bench/streamPublisher.ts). The clients run in a worker thread and time each event
 * against the publication time it carries. Not included: the time from a shard closing the signal to the flusher's commit
 * (FLUSH_INTERVAL_MS polling and the transaction: see "pipeline").
 */
import type { AddressInfo } from 'node:net';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { insertApiKey } from '../src/storage/insertApiKey.ts';
import { migrate } from '../src/storage/migrate.ts';
import { createApiKey } from '../src/web/apiKey.ts';
import { createWebServer } from '../src/web/createWebServer.ts';
import { dropPrefix } from './pipeline/dropPrefix.ts';
import { quietLog, scratchDatabase } from './pipeline/scratchDatabase.ts';
import { withServices } from './privateServices.ts';
import type { Report } from './Report.ts';

const say = (msg: string): void => {
  process.stderr.write(`[stream] ${msg}\n`);
};

/**
 * The worker thread (plain JavaScript: a worker does not inherit tsx's loader): `clients` SSE
 * connections, each event's latency against its `sentAt`.
 */
const CLIENTS_JS = `
const http = require('node:http');
const { parentPort, workerData: data } = require('node:worker_threads');
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const latencies = [];
let connected = 0;
const now = () => performance.timeOrigin + performance.now();
for (let c = 0; c < data.clients; c++) {
  http.get(data.url + '/v1/stream', { agent, headers: { authorization: 'Bearer ' + data.key } }, (res) => {
    if (++connected === data.clients) parentPort.postMessage({ connected });
    res.setEncoding('utf8');
    let rest = '';
    res.on('data', (chunk) => {
      const at = now();
      const text = rest + chunk;
      let from = 0;
      for (;;) {
        const i = text.indexOf('"sentAt":', from);
        if (i < 0) break;
        const end = text.indexOf('}', i);
        if (end < 0) break;
        latencies.push(at - Number(text.slice(i + 9, end)));
        from = end;
      }
      rest = text.slice(from);
    });
  });
}
parentPort.on('message', (m) => {
  if (m.stop) {
    parentPort.postMessage({ latencies: Float64Array.from(latencies) });
    agent.destroy();
    process.exit(0);
  }
});
`;

export async function run(report: Report, args: string[]): Promise<void> {
  const arg = (name: string, d: number): number =>
    Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? d);
  const clients = arg('clients', 1000);
  const rate = arg('rate', 1000);
  const seconds = arg('seconds', 20);
  await withServices('stream', say, async ({ redisUrl, databaseUrl }) => {
    const scratch = await scratchDatabase(databaseUrl);
    await migrate({ databaseUrl: scratch.url, log: quietLog });
    const prefix = `bench-stream-${process.pid}`;
    const redis = new Redis(redisUrl);
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const pool = new pg.Pool({ connectionString: scratch.url });
    // Dropping the scratch database at the end ends any connection still open: not an error here.
    pool.on('error', () => {});
    const { key, hash } = createApiKey();
    await insertApiKey(pool, { tenant: 'bench', scopes: ['read'], hash, label: 'bench' });
    const app = await createWebServer({
      redis,
      connection,
      pool,
      prefix,
      shards: 1,
      log: pino({ level: 'silent' }),
      access: { allowedHosts: '*', listenHost: '127.0.0.1', rateLimitPerMinute: 0, keyCacheMs: 60_000 },
      live: {
        heartbeatMs: 15_000,
        maxBufferBytes: 16 << 20,
        // Every client here is the one bench key's: let them all in (SSE_MAX_STREAMS_PER_KEY).
        maxStreamsPerKey: clients,
        allowPrivateWebhooks: false,
        webhooksPerTenant: 25,
      },
      now: Date.now,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const worker = new Worker(CLIENTS_JS, { eval: true, workerData: { url, key, clients } });
    await new Promise<void>((resolve) => worker.once('message', () => resolve()));
    say(`${clients} clients connected; publishing ${rate} events/s for ${seconds} s`);
    const publisher = fork(fileURLToPath(new URL('./streamPublisher.ts', import.meta.url)), {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        REDIS_URL: redisUrl,
        PREFIX: prefix,
        RATE: String(rate),
        SECONDS: String(seconds),
      },
    });
    const n = await new Promise<number>((resolve, reject) => {
      publisher.once('message', (m: { published: number }) => resolve(m.published));
      publisher.once('exit', (code) => reject(new Error(`the publisher exited with ${code}`)));
    });
    await new Promise((r) => setTimeout(r, 1000));
    const latencies = await new Promise<Float64Array>((resolve) => {
      worker.once('message', (m: { latencies: Float64Array }) => resolve(m.latencies));
      worker.postMessage({ stop: true });
    });
    const sorted = Float64Array.from(latencies).sort();
    const q = (p: number): number =>
      sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
    say(`${n} events published, ${sorted.length} deliveries timed (expected ${n * clients})`);
    report({ name: 'stream.outcome_to_client_p50_ms', value: q(0.5), unit: 'ms' });
    report({ name: 'stream.outcome_to_client_p99_ms', value: q(0.99), unit: 'ms' });
    report({ name: 'stream.deliveries_per_s', value: sorted.length / seconds, unit: '1/s' });
    await app.close();
    await dropPrefix(redis, prefix);
    await pool.end();
    redis.disconnect();
    connection.disconnect();
    await scratch.drop();
  });
}
