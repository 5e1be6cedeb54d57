/**
 * `npm run screenshot`: the README's picture of the dashboard, made from real demo data. Runs
 * `npm run demo -- --serve` (private Redis and PostgreSQL), signs in on the dashboard's sign-in
 * page with the key the demo prints, waits until every analytics chart has drawn, saves
 * docs/dashboard.png (or the path given) and stops the demo as Ctrl-C would.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { launchBrowser, saveScreenshot } from '../test/support/browser.ts';
import { serveDemo } from '../test/support/demoServe.ts';

/** The README links the picture; kept small (a viewport, not the whole page). */
const MAX_BYTES = 400_000;

const target = resolve(process.argv[2] ?? 'docs/dashboard.png');
const dir = await mkdtemp(join(tmpdir(), 'ot-screenshot-'));
process.stdout.write('screenshot: running the demo (about a minute)\n');
const demo = await serveDemo({ out: join(dir, 'report.html') });
let failed = false;
try {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
    await page.goto(demo.dashboardUrl);
    // The real sign-in: the 401 page's form, which stores the key in the session cookie.
    await page.fill('#key', demo.key);
    await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
    // Loaded (the page says so) and every analytics chart drawn by ECharts.
    // A function, not a string: the dashboard's CSP refuses eval.
    await page.waitForFunction(
      () => {
        const g = globalThis as unknown as {
          document: {
            getElementById(id: string): { textContent: string | null } | null;
            querySelectorAll(s: string): ArrayLike<unknown>;
          };
          echarts?: { getInstanceByDom(e: unknown): unknown };
        };
        const boxes = Array.from(g.document.querySelectorAll('#analytics [data-chart]'));
        return (
          (g.document.getElementById('status')?.textContent ?? '').startsWith('Loaded') &&
          boxes.length === 8 &&
          boxes.every((b) => g.echarts?.getInstanceByDom(b) !== undefined)
        );
      },
      undefined,
      { timeout: 60_000 },
    );
    // The demo's data is two days eleven years apart (IBM 2013, Binance 2024): the day of
    // the latest outcome shows its curves, where "all" would stretch them over the years between.
    await page.selectOption('#anchor', 'latest');
    await page.check('input[name="window"][value="1d"]');
    await page.waitForSelector('#analytics[data-window="1d"] [data-chart="calibration"] canvas', {
      timeout: 60_000,
    });
    await page.waitForTimeout(500);
    await page.screenshot({ path: target });
  } catch (err) {
    const pages = browser.contexts().flatMap((c) => c.pages());
    if (pages[0]) await saveScreenshot(pages[0], 'screenshot-failed');
    throw err;
  } finally {
    await browser.close();
  }
  const { size } = await stat(target);
  process.stdout.write(`screenshot: ${target} (${Math.round(size / 1000)} kB)\n`);
  if (size > MAX_BYTES) {
    process.stderr.write(`screenshot: larger than ${MAX_BYTES / 1000} kB; make the viewport smaller\n`);
    failed = true;
  }
} catch (err) {
  process.stderr.write(`screenshot: ${(err as Error).message}\n`);
  failed = true;
} finally {
  await demo.interrupt();
  await rm(dir, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
