/**
 * Operators' metrics end to end (docs/OPERATIONS.md "Metrics"): the four processes as the
 * Procfile runs them (`node --import tsx workers/…`), each scraped as Prometheus would (the
 * worker, flusher and scheduler on METRICS_PORT, the web process's `/metrics` with a `metrics` key).
 * Signals, ticks and operations go in through the queues and the HTTP API, and every counter
 * must have moved by what was sent, or by what PostgreSQL and Redis hold afterwards (counted
 * independently of the metrics); each scrape passes `promtool check metrics`. The alert rules
 * and the Grafana dashboard in docs/ use only metrics that these scrapes expose.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { generateSignals, spreadAnchors } from '../../src/demo/generateSignals.ts';
import { ShardKeys, shardOf } from '../../src/names.ts';
import { appliedTickCount } from '../../src/live/shardStore.ts';
import { readDataTicks } from '../support/dataFile.ts';
import {
  createPipelineClient,
  spawnFlusher,
  spawnProcess,
  spawnWorker,
  tail,
  type WorkerProcess,
} from '../support/livePipeline.ts';
import { createKey, freePort, useRealProcesses } from '../support/realProcesses.ts';
import { exposedNames, parseScrape, promtool, sum, sumBy, type Scrape } from '../support/promText.ts';
import {
  createTestDatabase,
  redisUrl,
  useRedisNamespace,
  useResourceTracker,
  type TestDatabase,
} from '../support/services.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHARDS = 2;
const RULES = 'docs/prometheus/alerts.yml';
const RULE_TESTS = 'docs/prometheus/alerts.test.yml';
const DASHBOARD = 'docs/grafana/outcome-tracker.json';

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await db.drop();
});
const ns = useRedisNamespace('metrics-e2e');
const tracker = useResourceTracker();

let ibm: Tick[] = [];
beforeAll(async () => {
  ibm = await readDataTicks('lean_usequity_IBM_trades_2013-10-07_11.csv.gz');
});

const run = useRealProcesses();
const { processes, outputs } = run;
const cliTarget = () => ({ repoRoot: REPO_ROOT, databaseUrl: db.url });

/** The metrics endpoint a process logged at start-up (METRICS_PORT=0: a free port). */
function metricsAddress(p: WorkerProcess): string {
  const line = p
    .output()
    .split('\n')
    .find((l) => l.includes('"metrics served"'));
  if (line === undefined) throw new Error(`${p.label} logged no metrics address\n${tail(p.output())}`);
  return (JSON.parse(line) as { address: string }).address;
}

async function scrape(url: string, key?: string): Promise<Scrape> {
  const res = await fetch(url, key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } });
  const text = await res.text();
  expect(res.status, `GET ${url}: ${text.slice(0, 500)}`).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseScrape(text);
}

/** Polls `read` until `done` holds of it (the flusher's last commit may still be landing). */
async function until<T>(read: () => Promise<T>, done: (x: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const x = await read();
    if (done(x)) return x;
    if (Date.now() > deadline) throw new Error(`${what} did not happen: ${JSON.stringify(x)}\n${outputs()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Metric names a PromQL-bearing text uses: ours, and the default process metrics. */
function namesUsedIn(text: string): Set<string> {
  return new Set([...text.matchAll(/\b((?:outcome_tracker|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1]!));
}

describe('operators’ metrics over real processes', () => {
  it('counts what was sent, in every process, in Prometheus’s own format', async () => {
    const httpPort = await freePort();
    const base = `http://127.0.0.1:${httpPort}`;
    const env = {
      REDIS_URL: redisUrl(),
      DATABASE_URL: db.url,
      QUEUE_PREFIX: ns.prefix,
      SHARDS: String(SHARDS),
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(httpPort),
      HTTP_RATE_LIMIT_PER_MINUTE: '100000',
      METRICS_PORT: '0',
      OP_WAIT_FOR_SIGNAL_MS: '300',
      SWEEP_CRON: '*/2 * * * * *',
      WEBHOOK_ALLOW_PRIVATE: 'on',
      WEBHOOK_BACKOFF_MS: '100',
    };
    const web = spawnProcess('web', 'workers/web.ts', env);
    const worker = spawnWorker('worker', env);
    const flusher = spawnFlusher('flusher', env);
    const scheduler = spawnProcess('scheduler', 'workers/scheduler.ts', env);
    processes.push(web, worker, flusher, scheduler);
    const key = await createKey(cliTarget(), 'acme', 'submit,read');
    const scraperKey = await createKey(cliTarget(), 'ops', 'metrics');
    await Promise.all([
      worker.waitForOutput('worker started'),
      flusher.waitForOutput('flusher started'),
      scheduler.waitForOutput('scheduler started'),
    ]);
    const deadline = Date.now() + 30_000;
    while ((await fetch(`${base}/ready`).catch(() => null))?.status !== 200) {
      if (!web.isRunning() || Date.now() > deadline)
        throw new Error(`the web process did not become ready\n${outputs()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    run.client = tracker.track(
      createPipelineClient({
        redisUrl: redisUrl(),
        databaseUrl: db.url,
        prefix: ns.prefix,
        shards: SHARDS,
        flusher: true,
      }),
      'pipeline client',
    );
    const drained = () => run.client!.waitUntilDrained({ diagnostics: outputs });

    // A webhook receiver for tenant acme's accepted and closed signals: it fails the first
    // attempt at each delivery (retried), and takes the second.
    const attempts = new Map<string, number>();
    const receiver = createHttpServer((req, res) => {
      req.resume();
      const id = String(req.headers['x-ot-delivery']);
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      res.writeHead(n === 1 ? 503 : 204).end();
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
    try {
      const hook = await fetch(`${base}/v1/webhooks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url: receiverUrl, eventTypes: ['signal.accepted', 'signal.closed'] }),
      });
      expect(hook.status, await hook.clone().text()).toBe(201);

      // Signals: through the queue (valid, a pending and an open one of our own, bad ones) and
      // through POST /v1/signals (valid and bad ones), then one resubmission.
      const t0 = ibm[0]!.ts;
      const lastTs = ibm[ibm.length - 1]!.ts;
      const anchors = spreadAnchors(ibm, 60);
      const viaQueue = generateSignals(anchors, { count: 40, seed: 7, prefix: 'q' });
      const viaHttp = generateSignals(anchors, { count: 10, seed: 8, prefix: 'h' });
      const wide = { takeProfits: [{ price: 400, fraction: 1 }], stopLoss: { price: 50 } };
      const pending = {
        v: 1,
        id: 'm-pending',
        symbol: 'IBM',
        side: 'long',
        createdAt: t0,
        entry: { type: 'limit', price: 100 },
        ...wide,
      };
      const open = {
        v: 1,
        id: 'm-open',
        symbol: 'IBM',
        side: 'long',
        createdAt: t0,
        entry: { type: 'market' },
        ...wide,
      };
      const badQueue = [
        { ...viaQueue[0], id: 'bad-q1', side: 'sideways' },
        { ...viaQueue[1], id: 'bad-q2', symbol: '' },
        'not an object',
      ];
      const badHttp = [
        { ...viaHttp[0], id: 'bad-h1', createdAt: 12 },
        { ...viaHttp[1], id: 'bad-h2', entry: { type: 'limit' } },
      ];
      await run.client.submitSignals([...viaQueue, pending, open, ...badQueue]);
      const posted = await fetch(`${base}/v1/signals`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ signals: [...viaHttp, ...badHttp] }),
      });
      const answer = (await posted.json()) as { accepted: number; rejected: number };
      expect(posted.status).toBe(202);
      expect(answer).toMatchObject({ accepted: viaHttp.length, rejected: badHttp.length });
      await drained();
      await run.client.submitSignals([viaQueue[0] as SignalPayload]);
      await drained();

      // Ticks: the whole IBM file, then 5 late ones, 2 malformed, 1 from the future, 1 poison job.
      const ibmShard = shardOf('IBM', SHARDS);
      await run.client.publishTicks(ibm);
      await drained();
      await run.client.publishTicks(Array.from({ length: 5 }, () => ({ symbol: 'IBM', ts: t0, price: 181 })));
      await run.client.shardQueue(ibmShard).add('ticks', {
        kind: 'ticks',
        ticks: [
          ['IBM', lastTs, -1],
          ['IBM', lastTs, 'x'],
          ['IBM', Date.now() + 3_600_000, 180],
        ],
      });
      await run.client.shardQueue(ibmShard).add('bogus', { kind: 'explode' });
      await drained();

      // Operations: two applied by the shard, one malformed, one on an unknown signal, and (once
      // its outcome is committed) one on a closed signal: three rejected by the intake.
      await run.client.submitOps([
        { op: 'cancel', id: 'm-pending', ts: lastTs },
        { op: 'exit', id: 'm-open', ts: lastTs },
        { op: 'explode', id: 'm-open', ts: lastTs },
        { op: 'cancel', id: 'no-such-signal', ts: lastTs },
      ]);
      await drained();
      await until(
        () =>
          run.client!.db.query(`SELECT count(*)::int AS n FROM signal_outcomes WHERE signal_id = 'm-open'`),
        (r) => r.rows[0].n === 1,
        'the exit of m-open committed',
      );
      await run.client.submitOps([{ op: 'exit', id: 'm-open', ts: lastTs }]);
      await drained();
      await until(
        () => run.client!.outbox(),
        (o) => o.length === 0,
        'the outboxes emptied',
      );

      // What PostgreSQL and Redis hold, counted without the metrics.
      const count = async (sql: string): Promise<number> =>
        (await run.client!.db.query(sql)).rows[0].n as number;
      const acceptedRows = await count(`SELECT count(*)::int AS n FROM signals WHERE status = 'accepted'`);
      const outcomeRows = await count(`SELECT count(*)::int AS n FROM signal_outcomes`);
      const rejectedRows = (
        await run.client.db.query<{ source: string; code: string; n: number }>(
          `SELECT CASE WHEN details->>'jobId' IS NULL THEN 'http' ELSE 'queue' END AS source,
                details->'codes'->>0 AS code, count(*)::int AS n
           FROM audit_logs WHERE event = 'rejected' GROUP BY 1, 2`,
        )
      ).rows;
      const ibmSeq = (await appliedTickCount(run.client.redis, new ShardKeys(ns.prefix, ibmShard), 'IBM'))!;
      expect(acceptedRows).toBe(viaQueue.length + 2 + viaHttp.length);
      expect(outcomeRows).toBeGreaterThan(10);

      // The scrapes, each clean by promtool.
      const flushed = await until(
        () => scrape(`${metricsAddress(flusher)}/metrics`),
        (s) => sum(s, 'outcome_tracker_outcomes_flushed_total') === outcomeRows,
        'the flusher counting every outcome',
      );
      const w = await scrape(`${metricsAddress(worker)}/metrics`);
      const s = await until(
        () => scrape(`${metricsAddress(scheduler)}/metrics`),
        (x) => sum(x, 'outcome_tracker_schedule_runs_total', { schedule: 'sweep', result: 'ok' }) >= 1,
        'a sweep run',
      );
      const unauthorised = await fetch(`${base}/metrics`);
      expect(unauthorised.status).toBe(401);
      // The tenant's key is refused: the web process's counters total every tenant.
      expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(
        403,
      );
      const wb = await scrape(`${base}/metrics`, scraperKey);
      for (const [label, x] of [
        ['worker', w],
        ['flusher', flushed],
        ['scheduler', s],
        ['web', wb],
      ] as const) {
        const lint = promtool(['check', 'metrics'], x.text);
        expect(lint.output, `promtool check metrics on the ${label}'s scrape`).toBe('');
        expect(lint.status).toBe(0);
        expect(sum(x, 'outcome_tracker_build_info', { process: label })).toBe(1);
      }

      // Signals.
      expect(sum(w, 'outcome_tracker_signals_accepted_total')).toBe(acceptedRows);
      const expectedRejected = (source: string) =>
        Object.fromEntries(rejectedRows.filter((r) => r.source === source).map((r) => [r.code, r.n]));
      expect(sumBy(w, 'outcome_tracker_signals_rejected_total', 'code', { source: 'queue' })).toEqual(
        expectedRejected('queue'),
      );
      expect(sumBy(wb, 'outcome_tracker_signals_rejected_total', 'code', { source: 'http' })).toEqual(
        expectedRejected('http'),
      );
      expect(sum(w, 'outcome_tracker_signals_rejected_total')).toBe(badQueue.length + 1);
      expect(sum(w, 'outcome_tracker_signals_rejected_total', { code: 'DUPLICATE_ID' })).toBe(1);
      expect(sum(wb, 'outcome_tracker_signals_rejected_total')).toBe(badHttp.length);

      // Ticks: every one sent is applied, late or skipped; the book counted the applied ones.
      const shard = String(ibmShard);
      const applied = sum(w, 'outcome_tracker_ticks_applied_total', { shard });
      const late = sum(w, 'outcome_tracker_ticks_late_total', { shard });
      expect(applied).toBe(ibmSeq);
      expect(late).toBeGreaterThanOrEqual(5);
      expect(sumBy(w, 'outcome_tracker_ticks_skipped_total', 'reason')).toEqual({ malformed: 2, future: 1 });
      expect(applied + late + 3).toBe(ibm.length + 5 + 3);
      expect(sum(w, 'outcome_tracker_shard_jobs_total', { kind: 'poison' })).toBe(
        (await run.client.poisonEntries()).length,
      );
      expect(sum(w, 'outcome_tracker_shard_jobs_total', { kind: 'poison' })).toBe(1);
      expect(sum(w, 'outcome_tracker_signals_registered_total')).toBe(acceptedRows);
      const registrationJobs =
        sum(w, 'outcome_tracker_shard_jobs_total', { kind: 'register' }) +
        sum(w, 'outcome_tracker_shard_jobs_total', { kind: 'register-batch' });
      expect(registrationJobs).toBeGreaterThan(0);
      expect(registrationJobs).toBeLessThanOrEqual(acceptedRows);
      // Every tick job observed once (the poison job counts as `poison`, not `ticks`).
      expect(sum(w, 'outcome_tracker_tick_to_checkpoint_seconds_count')).toBe(
        sum(w, 'outcome_tracker_shard_jobs_total', { kind: 'ticks' }),
      );

      // Operations.
      const ops = (op: string, result: string) => sum(w, 'outcome_tracker_operations_total', { op, result });
      expect([ops('cancel', 'applied'), ops('exit', 'applied')]).toEqual([1, 1]);
      expect([ops('invalid', 'rejected'), ops('cancel', 'rejected'), ops('exit', 'rejected')]).toEqual([
        1, 1, 1,
      ]);

      // Outcomes: closed by the shards, flushed once each, each with its close-to-commit latency.
      expect(sum(w, 'outcome_tracker_signals_closed_total')).toBe(outcomeRows);
      expect(sum(flushed, 'outcome_tracker_close_to_commit_seconds_count')).toBe(outcomeRows);
      expect(sum(flushed, 'outcome_tracker_flush_passes_total', { result: 'failed' })).toBe(0);
      expect(sum(flushed, 'outcome_tracker_flush_passes_total', { result: 'ok' })).toBeGreaterThan(0);
      expect(sum(flushed, 'outcome_tracker_outbox_refused_entries')).toBe(0);
      expect(sum(flushed, 'outcome_tracker_outbox_entries_removed_total')).toBeGreaterThanOrEqual(
        outcomeRows,
      );
      expect(sum(flushed, 'outcome_tracker_flush_last_success_timestamp_seconds')).toBeGreaterThan(0);

      // The web process's gauges, read from Redis: drained, and the shards' state.
      expect(sum(wb, 'outcome_tracker_outbox_entries')).toBe(0);
      expect(sumBy(wb, 'outcome_tracker_shard_queue_depth', 'shard')).toEqual({ '0': 0, '1': 0 });
      const shardLines = wb.text
        .split('\n')
        .filter((l) => /open_signals|clock_lag/.test(l))
        .join('\n');
      expect(sum(wb, 'outcome_tracker_open_signals'), `${shardLines}\n${tail(web.output())}`).toBe(
        acceptedRows - outcomeRows,
      );
      const lag = sum(wb, 'outcome_tracker_market_clock_lag_seconds', { shard });
      expect(Math.abs(lag - (Date.now() - lastTs) / 1000)).toBeLessThan(3600);

      // Every metric the rules and the dashboard use is in a scrape; every one of ours is documented.
      const exposed = new Set([w, flushed, s, wb].flatMap((x) => [...exposedNames(x)]));
      const used = [
        ...namesUsedIn(readFileSync(`${REPO_ROOT}/${RULES}`, 'utf8')),
        ...namesUsedIn(readFileSync(`${REPO_ROOT}/${DASHBOARD}`, 'utf8')),
      ];
      expect(used.filter((n) => !exposed.has(n))).toEqual([]);
      expect(used.length).toBeGreaterThan(10);
      const operations = readFileSync(`${REPO_ROOT}/docs/OPERATIONS.md`, 'utf8');
      const section = operations.slice(operations.indexOf('\n## Metrics'));
      const documented = new Set([...section.matchAll(/`(outcome_tracker_[a-z0-9_]+)/g)].map((m) => m[1]!));
      const ours = [w, flushed, s, wb]
        .flatMap((x) => [...x.types.keys()])
        .filter((n) => n.startsWith('outcome_tracker_'));
      expect(ours.filter((n) => !documented.has(n))).toEqual([]);
      expect([...documented].filter((n) => !exposed.has(n))).toEqual([]);

      // Webhooks: every delivery of acme's events, first refused (retrying), then delivered.
      const acmeEvents =
        viaHttp.length +
        (await count(
          `SELECT count(*)::int AS n FROM signal_outcomes o JOIN signals s ON s.id = o.signal_id AND s.status = 'accepted'
          WHERE s.tenant = 'acme'`,
        ));
      await until(
        async () => [...attempts.values()].filter((n) => n >= 2).length,
        (n) => n === acmeEvents,
        `all ${acmeEvents} webhook deliveries taken`,
      );
      const hooked = await until(
        () => scrape(`${metricsAddress(worker)}/metrics`),
        (x) => sum(x, 'outcome_tracker_webhook_deliveries_total', { result: 'delivered' }) === acmeEvents,
        'the worker counting every delivery',
      );
      expect(sumBy(hooked, 'outcome_tracker_webhook_deliveries_total', 'result')).toEqual({
        delivered: acmeEvents,
        retrying: acmeEvents,
        failed: 0,
        skipped: 0,
      });
      expect(
        await count(
          `SELECT count(*)::int AS n FROM webhook_deliveries WHERE status_code BETWEEN 200 AND 299`,
        ),
      ).toBe(acmeEvents);

      await run.client.close();
      run.client = undefined;
      await Promise.all(processes.map((p) => p.stop()));
      for (const p of processes)
        expect((await p.exited).code, `${p.label}'s exit\n${tail(p.output())}`).toBe(0);
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }
  }, 150_000);

  it('ships alert rules that promtool finds clean and that fire on the failures they name', () => {
    const check = promtool(['check', 'rules', `${REPO_ROOT}/${RULES}`]);
    expect(check.status, check.output).toBe(0);
    expect(check.output).toMatch(/SUCCESS: \d+ rules found/);
    const tests = promtool(['test', 'rules', `${REPO_ROOT}/${RULE_TESTS}`]);
    expect(tests.status, tests.output).toBe(0);
    expect(tests.output).toContain('SUCCESS');
    const dashboard = JSON.parse(readFileSync(`${REPO_ROOT}/${DASHBOARD}`, 'utf8')) as {
      panels: { targets?: { expr: string; datasource: unknown }[] }[];
      templating: { list: { name: string; type: string; query: string }[] };
    };
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
    const targets = dashboard.panels.flatMap((p) => p.targets ?? []);
    expect(targets.length).toBeGreaterThan(10);
    for (const t of targets) expect(t.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
  });
});
