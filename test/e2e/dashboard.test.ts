/**
 * The dashboard in a real browser (headless Debian Chromium through playwright-core) against the
 * real processes (`node --import tsx workers/…`: web, worker, flusher), keys made with the
 * command line, and the bundled real prices through the real pipeline. What the charts drew is
 * read back from ECharts (`getInstanceByDom(el).getOption()`) and from the price chart's
 * `data-drawn` record, and compared with rows counted in PostgreSQL. Screenshots go to
 * `.tmp/artifacts/`.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { generateSignals, spreadAnchors } from '../../src/demo/generateSignals.ts';
import { launchBrowser, pageErrors, saveScreenshot } from '../support/browser.ts';
import { readDataTicks } from '../support/dataFile.ts';
import {
  createPipelineClient,
  spawnFlusher,
  spawnProcess,
  spawnWorker,
  type PipelineClient,
  type WorkerProcess,
} from '../support/livePipeline.ts';
import { createKey, freePort, outputsOf } from '../support/realProcesses.ts';
import {
  createRedisNamespace,
  createTestDatabase,
  redisUrl,
  type RedisNamespace,
  type TestDatabase,
} from '../support/services.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHARDS = 2;
const TICKS_PER_REQUEST = 10_000;

let db: TestDatabase;
let ns: RedisNamespace;
let base = '';
let keyA = '';
let keyB = '';
let pool: pg.Pool;
let client: PipelineClient;
let browser: Browser;
const processes: WorkerProcess[] = [];
let signalsA: SignalPayload[] = [];

const outputs = (): string => outputsOf(processes);

async function cli(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['bin/outcome-tracker.js', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, DATABASE_URL: db.url },
    timeout: 60_000,
  });
  return stdout;
}

async function call(method: string, path: string, headers: Record<string, string> = {}, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    redirect: 'manual',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const wire = (t: Tick): unknown[] =>
  t.bid === undefined && t.ask === undefined
    ? [t.symbol, t.ts, t.price]
    : [t.symbol, t.ts, t.price, t.bid ?? null, t.ask ?? null];

async function postTicks(key: string, ticks: Tick[]): Promise<void> {
  for (let i = 0; i < ticks.length; i += TICKS_PER_REQUEST) {
    const chunk = ticks.slice(i, i + TICKS_PER_REQUEST);
    const sent = await call('POST', '/v1/ticks', bearer(key), { ticks: chunk.map(wire) });
    expect(sent.status, sent.text).toBe(202);
  }
}

async function postSignals(key: string, signals: SignalPayload[]): Promise<void> {
  const sent = await call('POST', '/v1/signals', bearer(key), { signals });
  expect(sent.status, sent.text).toBe(202);
  expect(JSON.parse(sent.text)).toMatchObject({ accepted: signals.length, rejected: 0 });
}

/** Waits until the tenant's outcomes in PostgreSQL reach `count`. */
async function outcomesReach(tenant: string, count: number, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const n = await countWhere(tenant, 'true');
    if (n >= count) return;
    if (Date.now() > until) throw new Error(`${tenant}: ${n} outcomes, expected ${count}\n${outputs()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function countWhere(tenant: string, where: string): Promise<number> {
  const r = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM signal_outcomes WHERE tenant = $1 AND (${where})`,
    [tenant],
  );
  return Number(r.rows[0]!.n);
}

const FILLED = `outcome NOT IN ('EXPIRED','CANCELLED','INVALID_AT_FILL')`;
const SIZED = `${FILLED} AND (r_multiple IS NOT NULL OR net_return IS NOT NULL)`;

/** Signs in through the sign-in page's form, as a person does. */
async function signIn(context: BrowserContext, key: string): Promise<Page> {
  const page = await context.newPage();
  const first = await page.goto(`${base}/dashboard`);
  expect(first?.status()).toBe(401);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await until(page, READY, 30_000);
  return page;
}

// Browser-side code is passed as strings: the project's TypeScript has no DOM library.
const READY = 'window.__dashboard?.ready === true';
const optionOf = (chart: string): string =>
  `echarts.getInstanceByDom(document.querySelector('[data-chart="${chart}"]')).getOption()`;

/** Each series of the chart named `name`: its point count and the sum of its values. */
async function seriesLengths(
  page: Page,
  name: string,
): Promise<{ name: string; type: string; length: number; sum: number }[]> {
  return page.evaluate(`${optionOf(name)}.series.map((s) => ({
    name: s.name,
    type: s.type,
    length: s.data.length,
    sum: s.data.reduce((a, d) => a + (typeof d === 'number' ? d : Array.isArray(d) ? d[1] : (d.value ?? 0)), 0),
  }))`);
}

/**
 * Waits until `expression` is true in the page. Polled from here: the page's Content Security
 * Policy forbids the string evaluation page.waitForFunction would do inside it.
 */
async function until(page: Page, expression: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await page.evaluate(expression).catch(() => false)) !== true) {
    if (Date.now() > deadline) throw new Error(`not true after ${timeoutMs} ms: ${expression}\n${outputs()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The outcome-mix chart's total. */
const MIX_TOTAL = `${optionOf('outcome-mix')}.series[0].data.reduce((a, d) => a + d.value, 0)`;

beforeAll(async () => {
  db = await createTestDatabase();
  ns = createRedisNamespace('dashboard');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = {
    REDIS_URL: redisUrl(),
    DATABASE_URL: db.url,
    QUEUE_PREFIX: ns.prefix,
    SHARDS: String(SHARDS),
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(port),
    HTTP_RATE_LIMIT_PER_MINUTE: '100000',
    // The level chart draws a signal over its symbol's recent ticks: keep the whole data file.
    TICK_BUFFER_SIZE: '200000',
  };
  processes.push(
    spawnProcess('web', 'workers/web.ts', env),
    spawnWorker('worker', env),
    spawnFlusher('flusher', env),
  );
  [keyA, keyB] = await Promise.all([
    createKey({ repoRoot: REPO_ROOT, databaseUrl: db.url }, 'acme', 'submit,read'),
    createKey({ repoRoot: REPO_ROOT, databaseUrl: db.url }, 'globex', 'submit,read'),
  ]);
  await Promise.all([
    processes[1]!.waitForOutput('worker started'),
    processes[2]!.waitForOutput('flusher started'),
  ]);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await call('GET', '/ready').catch(() => null);
    if (ready?.status === 200) break;
    if (Date.now() > deadline) throw new Error(`the web process did not become ready\n${outputs()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  client = createPipelineClient({
    redisUrl: redisUrl(),
    databaseUrl: db.url,
    prefix: ns.prefix,
    shards: SHARDS,
    flusher: true,
  });

  // Real prices: tenant acme trades IBM (half its signals with a notional), globex BTC and ETH.
  const ibm = await readDataTicks('lean_usequity_IBM_trades_2013-10-07_11.csv.gz');
  const binance = await readDataTicks('binance_spot_BTCUSDT_ETHUSDT_trades_2024-08-08.csv.gz');
  signalsA = generateSignals(spreadAnchors(ibm, 150), { count: 150, seed: 7, prefix: 'acme-ibm' }).map(
    (s, i) => (i % 2 === 0 ? { ...s, notional: 10_000 } : s),
  );
  const signalsB = generateSignals(spreadAnchors(binance, 40), { count: 40, seed: 8, prefix: 'globex-bin' });
  await postSignals(keyA, signalsA);
  await postSignals(keyB, signalsB);
  await client.waitUntilDrained({ diagnostics: outputs });
  await postTicks(keyA, ibm);
  await postTicks(keyB, binance);
  await client.waitUntilDrained({ diagnostics: outputs });
  // Every signal ends by the data's end or is still open; wait for the flusher's last commit.
  await new Promise((r) => setTimeout(r, 1000));
  // The analyzer, as an operator runs it, so that insights exist to show.
  await cli(['analyze', '--window', 'all']);
  browser = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await client?.close();
  await Promise.all(processes.map((p) => p.kill()));
  await pool?.end();
  await ns?.cleanup();
  await db?.drop();
});

describe('the dashboard', () => {
  it('answers every page and asset with 401 and the sign-in page without a key; the session cookie reads but never writes', async () => {
    const pages = [
      '/dashboard',
      '/dashboard/',
      '/dashboard/whoami',
      '/dashboard/sign-out',
      '/dashboard/assets/dashboard.js',
      '/dashboard/assets/analytics.js',
      '/dashboard/vendor/echarts.min.js',
      '/dashboard/vendor/lightweight-charts.standalone.production.js',
    ];
    for (const path of pages) {
      for (const headers of [{}, bearer('otk_not_a_key'), { cookie: 'ot_session=otk_not_a_key' }] as Record<
        string,
        string
      >[]) {
        const res = await call('GET', path, headers);
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers.get('content-type')).toMatch(/^text\/html/);
        expect(res.text).toContain('Sign in');
      }
    }
    expect((await call('GET', '/v1/charts')).status).toBe(401);

    // Signing in: the key as a Bearer header, the cookie HttpOnly and SameSite=Strict.
    const session = await call('POST', '/dashboard/session', bearer(keyA));
    expect(session.status, session.text).toBe(200);
    const cookie = session.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^ot_session=otk_[^;]+;/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).toMatch(/Path=\//);
    const withCookie = { cookie: cookie.split(';')[0]! };
    expect((await call('GET', '/dashboard', withCookie)).status).toBe(200);
    expect((await call('GET', '/v1/charts?window=all', withCookie)).status).toBe(200);
    expect((await call('GET', '/dashboard/vendor/echarts.min.js', withCookie)).status).toBe(200);
    // Only the two bundles of the chart packages are served, not the rest of their files.
    expect((await call('GET', '/dashboard/vendor/echarts.js', withCookie)).status).toBe(404);
    // A write with the cookie alone is refused: only a header carries a key for writes.
    const write = await call('POST', '/v1/signals', withCookie, { signals: [signalsA[0]] });
    expect(write.status).toBe(401);
    expect((await call('POST', '/dashboard/session', withCookie)).status).toBe(401);
    // Basic (as for Bull Board) and Bearer open the pages too.
    const basic = { authorization: `Basic ${Buffer.from(`x:${keyA}`).toString('base64')}` };
    expect((await call('GET', '/dashboard', basic)).status).toBe(200);
    expect((await call('GET', '/dashboard', bearer(keyA))).status).toBe(200);
    // Signing out clears the cookie.
    const out = await call('GET', '/dashboard/sign-out', withCookie);
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/ot_session=;/);
  });

  it("draws every chart from the tenant's outcomes, as PostgreSQL counts them, and a chosen signal's levels", async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await signIn(context, keyA);
    const errors = pageErrors(page);

    const total = await countWhere('acme', 'true');
    expect(total).toBeGreaterThan(20);
    const mix = await seriesLengths(page, 'outcome-mix');
    expect(mix[0]!.sum).toBe(total);

    const equity = await seriesLengths(page, 'equity-strategy');
    const allSeries = equity.filter((s) => s.name === 'all signals');
    // Equity and drawdown: a point at the start and one per sized trade.
    expect(allSeries.map((s) => s.length)).toEqual([
      1 + (await countWhere('acme', SIZED)),
      1 + (await countWhere('acme', SIZED)),
    ]);
    const strategies = await pool.query<{ strategy: string; n: string }>(
      `SELECT strategy, count(*) AS n FROM signal_outcomes WHERE tenant = 'acme' AND ${SIZED} GROUP BY strategy`,
    );
    for (const row of strategies.rows) {
      const drawn = equity.filter((s) => s.name === row.strategy).map((s) => s.length);
      expect(drawn, `strategy ${row.strategy}`).toEqual([1 + Number(row.n), 1 + Number(row.n)]);
    }
    const models = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM signal_outcomes WHERE tenant = 'acme' AND ${SIZED} GROUP BY model, model_version`,
    );
    const modelLines = (await seriesLengths(page, 'equity-model')).filter((s) => s.name !== 'all signals');
    expect(modelLines.length).toBe(2 * models.rows.length);
    expect(modelLines.map((s) => s.length - 1).sort()).toEqual(
      models.rows.flatMap((r) => [Number(r.n), Number(r.n)]).sort(),
    );

    const rBins = await seriesLengths(page, 'r-multiple');
    expect(rBins[0]!.sum).toBe(await countWhere('acme', `${FILLED} AND r_multiple IS NOT NULL`));
    const holding = await seriesLengths(page, 'holding');
    expect(holding[0]!.sum).toBe(await countWhere('acme', `${FILLED} AND holding_ms IS NOT NULL`));
    const scatter = await seriesLengths(page, 'excursions');
    expect(scatter.reduce((a, s) => a + s.length, 0)).toBe(
      await countWhere('acme', `${FILLED} AND mfe IS NOT NULL AND mae IS NOT NULL`),
    );
    const calibration = await seriesLengths(page, 'calibration');
    const forecasts = await countWhere(
      'acme',
      `${FILLED} AND net_return IS NOT NULL AND confidence IS NOT NULL`,
    );
    expect(calibration.find((s) => s.name === 'trades')!.sum).toBe(forecasts);
    // P&L in currency: the outcomes of the signals that gave a notional.
    const pnl = await pool.query<{ pnl: number; n: string }>(
      `SELECT sum(pnl) AS pnl, count(pnl) AS n FROM signal_outcomes WHERE tenant = 'acme'`,
    );
    const pnlBars = await seriesLengths(page, 'pnl');
    expect(Number(pnl.rows[0]!.n)).toBeGreaterThan(0);
    expect(pnlBars.find((s) => s.name === 'P&L')!.sum).toBeCloseTo(2 * Number(pnl.rows[0]!.pnl), 6); // all + per strategy
    // The sizing convention is on the chart.
    const subtitle = await page.evaluate(`${optionOf('equity-strategy')}.title[0].text`);
    expect(subtitle).toBe('Sized equal risk, 1 % per signal');

    // Insights, newest first, as many as the analyzer stored for the tenant.
    const insights = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM performance_insights WHERE tenant = 'acme'`,
    );
    expect(Number(insights.rows[0]!.n)).toBeGreaterThan(0);
    const rows = page.locator('[data-table="insights"] tbody tr');
    expect(await rows.count()).toBe(Math.min(100, Number(insights.rows[0]!.n)));
    const newest = await pool.query<{ rule: string; severity: string }>(
      `SELECT rule, severity FROM performance_insights WHERE tenant = 'acme' ORDER BY created_at DESC, id DESC LIMIT 1`,
    );
    const first = await rows.first().locator('td').allInnerTexts();
    expect(first.slice(0, 2)).toEqual([newest.rows[0]!.severity, newest.rows[0]!.rule]);
    // The evidence numbers: "name: value" pairs.
    expect(first[4]).toMatch(/\w+: -?\d/);

    // Only acme's signals anywhere on the page.
    const text = await page.locator('main').innerText();
    expect(text).not.toContain('globex-bin');
    await saveScreenshot(page, 'dashboard-light');

    // A closed signal with a stop and legs, chosen from the list: its levels on the price chart.
    const chosen = await pool.query<{ signal_id: string }>(
      `SELECT signal_id FROM signal_outcomes WHERE tenant = 'acme' AND jsonb_array_length(legs) >= 1 AND fill_ts IS NOT NULL
        ORDER BY closed_at DESC LIMIT 1`,
    );
    const id = chosen.rows[0]!.signal_id;
    await page.goto(`${base}/dashboard#signal=${encodeURIComponent(id)}`);
    await until(
      page,
      `document.getElementById('levels')?.getAttribute('data-signal') === ${JSON.stringify(id)}`,
    );
    const drawn = JSON.parse((await page.getAttribute('#levels', 'data-drawn'))!) as {
      ticks: number;
      priceLines: { title: string; price: number }[];
      stopSteps: { price: number }[];
      markers: { text: string }[];
    };
    const line = JSON.parse(
      (await call('GET', `/v1/signals/${encodeURIComponent(id)}`, bearer(keyA))).text,
    ) as {
      legs: unknown[];
      fill: { price: number };
    };
    const payload = signalsA.find((s) => s.id === id)!;
    expect(drawn.ticks).toBeGreaterThan(10);
    for (const [k, tp] of (payload.takeProfits ?? []).entries())
      expect(drawn.priceLines).toContainEqual({ title: `TP${k + 1}`, price: tp.price });
    expect(drawn.priceLines).toContainEqual({ title: 'fill', price: line.fill.price });
    if (payload.stopLoss) expect(drawn.stopSteps[0]!.price).toBe(payload.stopLoss.price);
    expect(drawn.markers.length).toBe(line.legs.length + 1);
    expect(await page.locator('#levels-table tr').count()).toBeGreaterThan(2);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it('shows a new outcome, its transitions and its stop move without a reload, in the dark theme too', async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'dark' });
    const page = await signIn(context, keyA);
    const errors = pageErrors(page);
    expect(await page.evaluate('document.documentElement.dataset.theme')).toBe('dark');
    const before = (await seriesLengths(page, 'outcome-mix'))[0]!.sum;
    await page.evaluate('window.__sameDocument = 42');

    // A live signal: TP1 at 110 moves the stop to breakeven (100), which then closes it.
    const now = Date.now();
    const live: SignalPayload = {
      v: 1,
      id: 'acme-live-1',
      symbol: 'LIVEX',
      side: 'long',
      createdAt: now - 60_000,
      entry: { type: 'market' },
      takeProfits: [
        { price: 110, fraction: 0.5 },
        { price: 120, fraction: 0.5 },
      ],
      stopLoss: { price: 90 },
      breakevenAfterTp: 1,
      strategy: 'breakout',
      confidence: 0.7,
    };
    await postSignals(keyA, [live]);
    await client.waitUntilDrained({ diagnostics: outputs });
    await page.waitForSelector('#open-signals tr[data-signal="acme-live-1"]', { timeout: 20_000 });
    await postTicks(
      keyA,
      [100, 104, 111, 105, 99.5].map((price, i) => ({ symbol: 'LIVEX', ts: now - 50_000 + i * 1000, price })),
    );
    await client.waitUntilDrained({ diagnostics: outputs });
    await outcomesReach('acme', before + 1);

    await page.waitForSelector('#live li[data-signal="acme-live-1"][data-type="signal.closed"]', {
      timeout: 20_000,
    });
    const types = await page.$$eval('#live li[data-signal="acme-live-1"]', (lis) =>
      lis.map((li) => li.getAttribute('data-type')),
    );
    expect(types).toEqual(
      expect.arrayContaining(['signal.filled', 'signal.leg', 'signal.stop_moved', 'signal.closed']),
    );
    await until(page, `${MIX_TOTAL} === ${before + 1}`, 20_000);
    expect(await page.evaluate('window.__sameDocument')).toBe(42);
    // The open signals are reloaded after the charts (refreshOutcomes): wait for that too.
    await until(
      page,
      `document.querySelectorAll('#open-signals tr[data-signal="acme-live-1"]').length === 0`,
      20_000,
    );

    // Its levels: entry at the fill, both TPs, the stop stepping from 90 to breakeven at 100.
    await page.locator('#recent-outcomes tr[data-signal="acme-live-1"] button').click();
    await until(page, `document.getElementById('levels')?.getAttribute('data-signal') === 'acme-live-1'`);
    const drawn = JSON.parse((await page.getAttribute('#levels', 'data-drawn'))!) as {
      ticks: number;
      priceLines: { title: string; price: number }[];
      stopSteps: { price: number }[];
      markers: { text: string }[];
    };
    expect(drawn.ticks).toBe(5);
    expect(drawn.priceLines).toEqual(
      expect.arrayContaining([
        { title: 'fill', price: 100 },
        { title: 'TP1', price: 110 },
        { title: 'TP2', price: 120 },
      ]),
    );
    expect([...new Set(drawn.stopSteps.map((s) => s.price))]).toEqual([90, 100]);
    expect(drawn.markers.map((m) => m.text.split(' ')[0])).toEqual(['fill', 'TP1', 'SL']);
    await saveScreenshot(page, 'dashboard-dark');

    // The theme toggle is a labelled button that switches back to light.
    await page.getByRole('button', { name: 'Light theme' }).click();
    expect(await page.evaluate('document.documentElement.dataset.theme')).toBe('light');
    expect(await page.getAttribute('#theme', 'aria-pressed')).toBe('false');
    expect(errors).toEqual([]);
    await context.close();
  }, 90_000);

  it("shows a second tenant only its own data, and none of the first tenant's signals or ticks", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await signIn(context, keyB);
    const data = await page.evaluate<{ tenant: string; totals: { outcomes: number } }>(
      'window.__dashboard.chartData',
    );
    expect(data.tenant).toBe('globex');
    expect(data.totals.outcomes).toBe(await countWhere('globex', 'true'));
    expect((await seriesLengths(page, 'outcome-mix'))[0]!.sum).toBe(await countWhere('globex', 'true'));
    expect(await page.locator('main').innerText()).not.toContain('acme-');

    // The window selector, on replayed history: one day ending after the latest outcome.
    await page.selectOption('#anchor', 'latest');
    await page.getByLabel('1 day').check();
    await until(page, `window.__dashboard.chartData.window === '1d'`);
    const day = await page.evaluate<{ windowStart: number; windowEnd: number; totals: { outcomes: number } }>(
      'window.__dashboard.chartData',
    );
    const latest = await pool.query<{ at: number }>(
      `SELECT extract(epoch FROM max(closed_at)) * 1000 AS at FROM signal_outcomes WHERE tenant = 'globex'`,
    );
    expect(day.windowEnd).toBe(Math.ceil((Number(latest.rows[0]!.at) + 1) / 86_400_000) * 86_400_000);
    expect(day.windowStart).toBe(day.windowEnd - 86_400_000);
    const inDay = await countWhere(
      'globex',
      `closed_at >= to_timestamp(${day.windowStart / 1000}) AND closed_at < to_timestamp(${day.windowEnd / 1000})`,
    );
    expect(inDay).toBeGreaterThan(0);
    expect(day.totals.outcomes).toBe(inDay);
    await until(page, `${MIX_TOTAL} === ${inDay}`);
    // Another tenant's signal (and so its symbol's ticks) is not found, from the page's own session.
    const status = await page.evaluate(`fetch('/v1/signals/acme-live-1/levels').then((r) => r.status)`);
    expect(status).toBe(404);
    // The level chart never drew it either.
    await page.goto(`${base}/dashboard#signal=acme-live-1`);
    await until(page, READY);
    expect(await page.getAttribute('#levels', 'data-signal')).toBeNull();
    await saveScreenshot(page, 'dashboard-second-tenant');
    await context.close();
  }, 60_000);
});
