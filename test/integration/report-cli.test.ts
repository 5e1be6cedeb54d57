/**
 * `outcome-tracker report` against real PostgreSQL: outcomes of the production engine stored as
 * the flusher stores them (test/support/reportOutcomes.ts), two tenants. What the file carries
 * is compared with what PostgreSQL holds; each tenant's report shows only its own outcomes; the
 * filters narrow it; the inlined data survives names that try to break out of the page; bad
 * input fails with one line and the documented exit code.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, main } from '../../src/cli/main.ts';
import { reportCommand } from '../../src/cli/reportCommand.ts';
import { REPORT_DATA_ID } from '../../src/web/report/reportHtml.ts';
import type { ReportData } from '../../src/web/report/writeReport.ts';
import { captureIo } from '../support/captureIo.ts';
import { HOSTILE_STRATEGY, storeReportOutcomes } from '../support/reportOutcomes.ts';
import { useTestDatabase } from '../support/services.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const db = useTestDatabase();
let pool: pg.Pool;
let dir: string;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await storeReportOutcomes(pool);
  dir = await mkdtemp(join(tmpdir(), 'ot-report-'));
});
afterAll(async () => {
  await pool?.end();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs the command in this process; the report's data read back from the file it wrote. */
async function report(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string; html: string; data: ReportData }> {
  const out = join(dir, `r-${Math.random().toString(36).slice(2)}.html`);
  const { io, stdout, stderr } = captureIo();
  const code = await reportCommand(['--out', out, ...args], io, { DATABASE_URL: db.url });
  const html = await readFile(out, 'utf8');
  return { code, stdout: stdout(), stderr: stderr(), html, data: reportData(html) };
}

function reportData(html: string): ReportData {
  const match = new RegExp(`<script type="application/json" id="${REPORT_DATA_ID}">(.*?)</script>`, 's').exec(
    html,
  );
  if (!match) throw new Error('the report has no data element');
  return JSON.parse(match[1]!) as ReportData;
}

/** Outcome count per code in PostgreSQL for `where` (parameters $1…). */
async function mixIn(where: string, params: unknown[]): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ outcome: string; n: number }>(
    `SELECT outcome, count(*)::int AS n FROM signal_outcomes WHERE ${where} GROUP BY outcome`,
    params,
  );
  return Object.fromEntries(rows.map((r) => [r.outcome, r.n]));
}

const drawnMix = (data: ReportData): Record<string, number> =>
  Object.fromEntries(data.charts.outcomeMix.filter((m) => m.count > 0).map((m) => [m.code, m.count]));

describe('outcome-tracker report', () => {
  it("writes one tenant's outcomes, as PostgreSQL holds them, and names the file it wrote", async () => {
    const r = await report(['--tenant', 'acme']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\/.*\.html$/);
    expect(await readFile(r.stdout.trim(), 'utf8')).toBe(r.html);

    const mix = await mixIn('tenant = $1', ['acme']);
    const total = Object.values(mix).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(50);
    expect(r.data.charts.tenant).toBe('acme');
    expect(r.data.charts.totals.outcomes).toBe(total);
    expect(drawnMix(r.data)).toEqual(mix);
    expect(r.stderr).toBe(`report: ${total} closed outcomes\n`);
    // globex's outcomes exist, under a strategy only globex uses; acme's report never shows it.
    expect(Object.values(await mixIn('tenant = $1', ['globex'])).reduce((a, b) => a + b, 0)).toBeGreaterThan(
      0,
    );
    expect(r.html).not.toContain('globex');
  });

  it('narrows to a strategy, a model version, and a period', async () => {
    const strategy = await report(['--tenant', 'acme', '--strategy', 'momentum']);
    expect(drawnMix(strategy.data)).toEqual(
      await mixIn('tenant = $1 AND strategy = $2', ['acme', 'momentum']),
    );
    expect(strategy.data.charts.filter).toEqual({ strategy: 'momentum' });

    const version = await report(['--tenant', 'acme', '--model', 'gbm', '--model-version', '1.1']);
    expect(drawnMix(version.data)).toEqual(
      await mixIn('tenant = $1 AND model = $2 AND model_version = $3', ['acme', 'gbm', '1.1']),
    );
    expect(version.data.charts.totals.outcomes).toBeGreaterThan(0);

    // The bundled trades are of 2013-10-07 to 2013-10-11: the first day alone, then all of them.
    const day = await report([
      '--tenant',
      'acme',
      '--from',
      '2013-10-07T00:00:00Z',
      '--to',
      '2013-10-08T00:00:00Z',
    ]);
    const dayMix = await mixIn(
      "tenant = $1 AND closed_at >= '2013-10-07T00:00:00Z' AND closed_at < '2013-10-08T00:00:00Z'",
      ['acme'],
    );
    expect(Object.keys(dayMix).length).toBeGreaterThan(0);
    expect(drawnMix(day.data)).toEqual(dayMix);
    const week = await report([
      '--tenant',
      'acme',
      '--from',
      '2013-10-07T00:00:00Z',
      '--to',
      '2013-10-12T00:00:00Z',
    ]);
    expect(drawnMix(week.data)).toEqual(await mixIn('tenant = $1', ['acme']));
    const after = await report(['--tenant', 'acme', '--from', '2013-10-12T00:00:00Z']);
    expect(after.data.charts.totals.outcomes).toBe(0);
    expect(after.code).toBe(0);
    // A calendar window ends at the next UTC midnight from now: 2013 is long outside 7 days.
    const recent = await report(['--tenant', 'acme', '--window', '7d']);
    expect(recent.data.charts.window).toBe('7d');
    expect(recent.data.charts.totals.outcomes).toBe(0);
    // Anchored at the tenant's latest outcome (2013-10-11), the 7 days hold all five.
    const replayed = await report(['--tenant', 'acme', '--window', '7d', '--anchor', 'latest']);
    expect(replayed.data.charts.windowEnd).toBe(Date.parse('2013-10-12T00:00:00Z'));
    expect(drawnMix(replayed.data)).toEqual(await mixIn('tenant = $1', ['acme']));
    const yesterday = await report(['--tenant', 'acme', '--window', '1d', '--anchor', 'latest']);
    expect(drawnMix(yesterday.data)).toEqual(
      await mixIn("tenant = $1 AND closed_at >= '2013-10-11T00:00:00Z'", ['acme']),
    );
    const symbol = await report(['--tenant', 'acme', '--symbol', 'IBM']);
    expect(drawnMix(symbol.data)).toEqual(await mixIn('tenant = $1', ['acme']));
    const none = await report(['--tenant', 'acme', '--symbol', 'MSFT']);
    expect(none.data.charts.totals.outcomes).toBe(0);
  });

  it('reports the default tenant when none is named (the demo signals name none)', async () => {
    const r = await report([]);
    expect(r.data.charts.tenant).toBe('default');
    expect(r.data.charts.totals.outcomes).toBe(0);
    expect(r.html).not.toContain('momentum');
  });

  it('inlines names that would end the script element or a JavaScript line, unchanged and inert', async () => {
    const r = await report(['--tenant', 'acme']);
    const labels = r.data.charts.equity.strategy.map((s) => s.label);
    expect(labels).toContain(HOSTILE_STRATEGY);
    // Each <script> element ends where it was meant to: as many closing tags as opening ones.
    expect(r.html.match(/<\/script/gi)?.length).toBe(r.html.match(/<script/gi)?.length);
    expect(r.html).not.toContain('<!--');
    expect(r.html).not.toContain('\u2028');
    expect(r.html).not.toContain('\u2029');
  });

  it('answers bad arguments with one line and exit code 2, before touching PostgreSQL', async () => {
    const cases: [string[], string][] = [
      [['--window', '2w'], '--window must be one of 1d, 7d, 30d, all, got "2w"'],
      [['--window', '7d', '--from', '2013-10-07'], 'give --window or --from/--to, not both'],
      [['--from', 'yesterday'], '--from must be an ISO 8601 time, got "yesterday"'],
      [['--from', '2013-10-08', '--to', '2013-10-07'], '--from must be before --to'],
      [['--tenant', ''], '--tenant must not be empty'],
      [['--window', '7d', '--anchor', 'soon'], '--anchor must be now or latest, got "soon"'],
      [['--anchor', 'latest'], '--anchor needs --window'],
      [['extra'], 'report takes no arguments, got extra'],
      [['--colour', 'red'], "Unknown option '--colour'"],
    ];
    for (const [args, message] of cases) {
      const { io, stdout, stderr } = captureIo();
      const code = await main(['report', ...args], io);
      expect(code, args.join(' ')).toBe(EXIT.usageOrInput);
      expect(stderr(), args.join(' ')).toContain(message);
      expect(stderr().trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(stdout()).toBe('');
    }
  });

  it('fails with exit code 1 and one line when PostgreSQL is unreachable or the file cannot be written', async () => {
    const run = promisify(execFile);
    const unreachable = await run(process.execPath, ['bin/outcome-tracker.js', 'report'], {
      cwd: REPO_ROOT,
      env: { ...process.env, DATABASE_URL: 'postgres://u:secret@127.0.0.1:1/none' },
      timeout: 30_000,
    }).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(unreachable?.code).toBe(EXIT.failure);
    expect(unreachable?.stderr).toMatch(
      /^report: cannot reach PostgreSQL at postgres:\/\/127\.0\.0\.1:1\/none: .+\n$/,
    );
    expect(unreachable?.stderr).not.toContain('secret');

    const unwritable = await run(
      process.execPath,
      ['bin/outcome-tracker.js', 'report', '--out', join(dir, 'no-such-dir', 'r.html')],
      { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: db.url }, timeout: 30_000 },
    ).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(unwritable?.code).toBe(EXIT.failure);
    expect(unwritable?.stderr).toMatch(/^report: cannot write --out .*no-such-dir\/r\.html: ENOENT.*\n$/);
  });
});
