/**
 * The web process while Redis or PostgreSQL is down, over plain HTTP: a request that needs the
 * missing service is answered `503 SERVICE_UNAVAILABLE` with `Retry-After` within
 * HTTP_REDIS_TIMEOUT_MS (not left hanging until the service returns, not a 500), a request that
 * does not need it is answered as usual, and once the service is back the same requests succeed.
 * The services sit behind TCP proxies the test cuts, as a crash or a network partition would.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnProcess } from '../support/livePipeline.ts';
import { createKey, freePort, useRealProcesses } from '../support/realProcesses.ts';
import {
  createTestDatabase,
  databaseUrl,
  redisUrl,
  useRedisNamespace,
  type TestDatabase,
} from '../support/services.ts';
import { TcpProxy } from '../support/tcpProxy.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TIMEOUT_MS = 1000;

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await db.drop();
});
const ns = useRedisNamespace('web-outage');
const run = useRealProcesses();

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
  ms: number;
}

function via(proxy: TcpProxy, url: string): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  return u.href;
}

describe('the web process during an outage', () => {
  it('answers 503 with Retry-After, never hangs or 500s, while Redis or PostgreSQL is down, and serves again after', async () => {
    const redisTarget = new URL(redisUrl());
    const pgTarget = new URL(databaseUrl());
    const redisProxy = await TcpProxy.start(
      { host: redisTarget.hostname, port: Number(redisTarget.port || 6379) },
      await freePort(),
    );
    const pgProxy = await TcpProxy.start(
      { host: pgTarget.hostname, port: Number(pgTarget.port || 5432) },
      await freePort(),
    );
    try {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const web = spawnProcess('web', 'workers/web.ts', {
        REDIS_URL: via(redisProxy, redisUrl()),
        DATABASE_URL: via(pgProxy, db.url),
        QUEUE_PREFIX: ns.prefix,
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(port),
        HTTP_REDIS_TIMEOUT_MS: String(TIMEOUT_MS),
        MIGRATE_ON_START: 'on',
      });
      run.processes.push(web);
      await web.waitForOutput('Server listening at', 60_000);
      const key = await createKey({ repoRoot: REPO_ROOT, databaseUrl: db.url }, 'acme', 'submit,read');
      let n = 0;
      const call = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> => {
        const t0 = Date.now();
        const res = await fetch(`${base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${key}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.text();
        return {
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          body: JSON.parse(text) as Answer['body'],
          ms: Date.now() - t0,
        };
      };
      const signal = () => ({
        v: 1,
        id: `outage-${++n}`,
        symbol: 'IBM',
        side: 'long',
        entry: { type: 'market' },
        stopLoss: { price: 90 },
        takeProfits: [{ price: 110, fraction: 1 }],
        createdAt: Date.now(),
      });
      const submit = () => call('POST', '/v1/signals', { signals: [signal()] });
      const ticks = () => call('POST', '/v1/ticks', { ticks: [['IBM', Date.now(), 100]] });
      const unavailable = (a: Answer, service: string): void => {
        expect(a.status, JSON.stringify(a.body)).toBe(503);
        expect(a.body.error?.code).toBe('SERVICE_UNAVAILABLE');
        expect(a.body.error?.message).toMatch(new RegExp(`^${service} is unavailable`));
        expect(Number(a.retryAfter)).toBeGreaterThan(0);
      };

      // All well.
      expect((await submit()).status).toBe(202);
      expect((await ticks()).status).toBe(202);
      expect((await call('GET', '/v1/outcomes')).status).toBe(200);

      // Redis down: what needs it is refused within the timeout (plus the rate limit's own
      // wait for Redis); PostgreSQL's reads still answer.
      await redisProxy.cut();
      for (const answer of [
        await submit(),
        await ticks(),
        await call('POST', '/v1/signals/outage-1/cancel', {}),
      ]) {
        unavailable(answer, 'Redis');
        expect(answer.ms).toBeLessThan(10 * TIMEOUT_MS);
      }
      expect((await call('GET', '/v1/outcomes')).status).toBe(200);
      const health = await fetch(`${base}/health`);
      expect(health.status).toBe(503);

      // Back: the same requests succeed (the client reconnects by itself).
      await redisProxy.restore();
      let back = await submit();
      for (let i = 0; i < 50 && back.status !== 202; i++) {
        await new Promise((r) => setTimeout(r, 200));
        back = await submit();
      }
      expect(back.status, JSON.stringify(back.body)).toBe(202);

      // PostgreSQL down: reads that need it are refused, naming it.
      await pgProxy.cut();
      unavailable(await call('GET', '/v1/outcomes'), 'PostgreSQL');
      unavailable(await call('GET', '/v1/signals?state=open'), 'PostgreSQL');
      await pgProxy.restore();
      let read = await call('GET', '/v1/outcomes');
      for (let i = 0; i < 50 && read.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 200));
        read = await call('GET', '/v1/outcomes');
      }
      expect(read.status, JSON.stringify(read.body)).toBe(200);
      // Outages are warnings in the log, not "request failed" errors with stacks.
      expect(web.output()).toContain('request refused: a service is unavailable');
      expect(web.output()).not.toContain('"msg":"request failed"');
    } finally {
      await redisProxy.close();
      await pgProxy.close();
    }
  }, 120_000);
});
