/**
 * `npm run demo -- --serve`: the whole demo once (scripts/demo.sh with private Redis and
 * PostgreSQL of its own), then the stack it keeps serving: the dashboard and Bull Board refuse a
 * request without the printed key and answer it with the key; Ctrl-C (SIGINT to the process
 * group, as a terminal sends it) stops every process the demo started, the private services too.
 * One run, polled twice a second: the demo's own work is the only load.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRunning, serveDemo, type ServedDemo } from '../support/demoServe.ts';

let demo: ServedDemo | undefined;
let dir: string | undefined;
afterAll(async () => {
  // A failed assertion must not leave the stack running.
  if (demo && demo.child.exitCode === null) await demo.interrupt();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('npm run demo -- --serve', () => {
  it('serves the dashboard and Bull Board behind the printed key until Ctrl-C, then stops everything', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ot-demo-serve-'));
    const out = join(dir, 'report.html');
    demo = await serveDemo({ out });

    expect(demo.reportPath).toBe(out);
    expect(await readFile(out, 'utf8')).toContain('<script type="application/json" id="report-data">');

    const get = async (url: string, key?: string): Promise<number> =>
      (await fetch(url, key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } })).status;
    const basic = (key: string): string => `Basic ${Buffer.from(`demo:${key}`).toString('base64')}`;
    expect(await get(demo.dashboardUrl)).toBe(401);
    expect(await get(demo.dashboardUrl, 'otk_' + 'x'.repeat(43))).toBe(401);
    expect(await get(demo.dashboardUrl, demo.key)).toBe(200);
    expect(await get(demo.bullBoardUrl)).toBe(401);
    expect((await fetch(demo.bullBoardUrl, { headers: { authorization: basic(demo.key) } })).status).toBe(
      200,
    );

    const started = demo.pids();
    // bash, tsx, the demo, two workers, flusher, scheduler, web, Redis and PostgreSQL at least.
    expect(started.length).toBeGreaterThanOrEqual(10);
    expect(started.filter(isRunning)).toEqual(started);
    expect(existsSync(demo.servicesDir)).toBe(true);

    const code = await demo.interrupt();
    expect(code).toBe(130);
    // scripts/demo.sh returns only after stopping the services; the processes' own children are
    // gone by then, as they are waited for.
    expect(started.filter(isRunning)).toEqual([]);
    expect(existsSync(demo.servicesDir)).toBe(false);
    expect(demo.output()).toContain('stopping the processes');
    // The demo runs for a while before it serves (serveDemo gives up, and stops it, at 300 s).
  }, 400_000);
});
