/**
 * The report file in a real browser (Debian's headless Chromium through playwright-core): made by
 * the `report` command from real outcomes in PostgreSQL (test/support/reportOutcomes.ts, with
 * the analyzer's insights), opened from disk with every network request blocked and recorded.
 * Nothing may be requested but the file itself, and every chart must draw as many points as
 * PostgreSQL holds outcomes for it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import pino from 'pino';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAnalyzer } from '../../src/analyzer/createAnalyzer.ts';
import { reportCommand } from '../../src/cli/reportCommand.ts';
import { OUTCOME_CODES, UNFILLED_OUTCOMES } from '../../src/metrics/tradeRecord.ts';
import { launchBrowser, pageErrors, saveScreenshot } from '../support/browser.ts';
import { captureIo } from '../support/captureIo.ts';
import { HOSTILE_STRATEGY, storeReportOutcomes } from '../support/reportOutcomes.ts';
import { useTestDatabase } from '../support/services.ts';

const db = useTestDatabase();
let pool: pg.Pool;
let browser: Browser;
let dir: string;
let file: string;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await storeReportOutcomes(pool);
  // The insights table: what the analyzer raises on these outcomes, as of the day after them.
  await createAnalyzer({
    pool,
    log: pino({ level: 'silent' }),
    now: () => Date.parse('2013-10-12T12:00:00Z'),
  }).analyze({ window: 'all', tenant: 'acme' });
  dir = await mkdtemp(join(tmpdir(), 'ot-report-browser-'));
  file = join(dir, 'report.html');
  const { io, stderr } = captureIo();
  const code = await reportCommand(['--tenant', 'acme', '--out', file], io, { DATABASE_URL: db.url });
  if (code !== 0) throw new Error(`report failed: ${stderr()}`);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await pool?.end();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A count over acme's filled outcomes in PostgreSQL, with `where` added. */
async function filled(where = 'true'): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM signal_outcomes
      WHERE tenant = 'acme' AND NOT (outcome = ANY($1::text[])) AND ${where}`,
    [[...UNFILLED_OUTCOMES]],
  );
  return rows[0]!.n;
}

interface Drawn {
  /** Per chart name: each series' name, type and number of data points. */
  charts: Record<string, { name: string; type: string; data: unknown[] }[]>;
  insightRows: number;
  text: string;
}

/** Runs in the page (the tests have no DOM types): what each chart drew, read back from ECharts. */
const READ_DRAWN = `(() => {
  const charts = {};
  for (const el of document.querySelectorAll('[data-chart]')) {
    charts[el.getAttribute('data-chart')] = window.echarts
      .getInstanceByDom(el)
      .getOption()
      .series.map((s) => ({ name: String(s.name), type: s.type, data: s.data }));
  }
  return {
    charts,
    insightRows: document.querySelectorAll('[data-table="insights"] tbody tr').length,
    text: document.getElementById('report').textContent,
  };
})()`;

describe('the report file', () => {
  it('opens from disk with no network, draws every chart from its data, and shows only the tenant', async () => {
    const context = await browser.newContext({
      viewport: { width: 1400, height: 900 },
      colorScheme: 'light',
    });
    const attempted: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file://')) return route.continue();
      attempted.push(url);
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    const errors = pageErrors(page);
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));

    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('html[data-report="drawn"]', { timeout: 30_000 });
    const drawn = (await page.evaluate(READ_DRAWN)) as Drawn;
    const pwned = await page.evaluate('window.pwned');
    await saveScreenshot(page, 'report-file');
    // The other theme: drawn again, the same points.
    const light = await page.evaluate('document.documentElement.dataset.theme');
    await page.click('#theme');
    const other = await page.evaluate('document.documentElement.dataset.theme');
    const redrawn = (await page.evaluate(READ_DRAWN)) as Drawn;
    await saveScreenshot(page, 'report-file-dark');
    await context.close();

    expect([light, other]).toEqual(['light', 'dark']);
    expect(redrawn.charts).toEqual(drawn.charts);
    expect(attempted).toEqual([]);
    expect(requested).toEqual([pathToFileURL(file).href]);
    expect(errors).toEqual([]);
    expect(Object.keys(drawn.charts).sort()).toEqual(
      [
        'calibration',
        'equity-model',
        'equity-strategy',
        'excursions',
        'holding',
        'outcome-mix',
        'pnl',
        'r-multiple',
      ].sort(),
    );

    // Outcome mix: one bar per code, each as many as PostgreSQL holds.
    const { rows: mix } = await pool.query<{ outcome: string; n: number }>(
      "SELECT outcome, count(*)::int AS n FROM signal_outcomes WHERE tenant = 'acme' GROUP BY outcome",
    );
    const mixOf = new Map(mix.map((r) => [r.outcome, r.n]));
    expect(drawn.charts['outcome-mix']![0]!.data.map((d) => (d as { value: number }).value)).toEqual(
      OUTCOME_CODES.map((c) => mixOf.get(c) ?? 0),
    );

    // Equity: the "all signals" curve has a point at the start and one per filled trade with a
    // result; its drawdown panel as many.
    const trades = await filled('net_return IS NOT NULL');
    expect(trades).toBeGreaterThan(50);
    for (const name of ['equity-strategy', 'equity-model']) {
      const all = drawn.charts[name]!.filter((s) => s.name === 'all signals');
      expect(
        all.map((s) => s.data.length),
        name,
      ).toEqual([trades + 1, trades + 1]);
    }
    // Per strategy, the same, each strategy's trades (the hostile name among them, drawn as text).
    const { rows: perStrategy } = await pool.query<{ strategy: string; n: number }>(
      `SELECT strategy, count(*)::int AS n FROM signal_outcomes
        WHERE tenant = 'acme' AND strategy IS NOT NULL AND net_return IS NOT NULL AND NOT (outcome = ANY($1::text[]))
        GROUP BY strategy`,
      [[...UNFILLED_OUTCOMES]],
    );
    expect(perStrategy.map((r) => r.strategy)).toContain(HOSTILE_STRATEGY);
    for (const { strategy, n } of perStrategy) {
      const lines = drawn.charts['equity-strategy']!.filter((s) => s.name === strategy);
      expect(
        lines.map((s) => s.data.length),
        strategy,
      ).toEqual([n + 1, n + 1]);
    }

    // Scatter: one point per trade with both excursions; histograms: one count per trade.
    const scatter = drawn.charts.excursions!.reduce((n, s) => n + s.data.length, 0);
    expect(scatter).toBe(await filled('mfe IS NOT NULL AND mae IS NOT NULL'));
    const sum = (data: unknown[]): number =>
      data.reduce<number>((n, d) => n + (typeof d === 'number' ? d : (d as { value: number }).value), 0);
    expect(sum(drawn.charts['r-multiple']![0]!.data)).toBe(await filled('r_multiple IS NOT NULL'));
    expect(sum(drawn.charts.holding![0]!.data)).toBe(await filled('holding_ms IS NOT NULL'));
    const calibrationBars = drawn.charts.calibration!.find((s) => s.name === 'trades')!;
    expect(calibrationBars.data.reduce<number>((n, d) => n + (d as [number, number])[1], 0)).toBe(
      await filled('confidence IS NOT NULL AND net_return IS NOT NULL'),
    );
    expect(await filled('confidence IS NOT NULL')).toBeGreaterThan(0);

    // Insights: as many rows as the analyzer stored for acme.
    const { rows: insights } = await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM performance_insights WHERE tenant = 'acme'",
    );
    expect(insights[0]!.n).toBeGreaterThan(0);
    expect(drawn.insightRows).toBe(insights[0]!.n);

    // The hostile name is text on the page, not markup that ran; globex's strategy is not there.
    expect(drawn.text).toContain('</script><!--<script>window.pwned=1</script>');
    expect(pwned).toBeUndefined();
    expect(drawn.text).not.toContain('globex');
  });
});
