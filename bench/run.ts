/**
 * `npm run bench [-- GROUP…]`: runs the benchmark groups (all by default) and prints one JSON
 * line per figure, {"name","value","unit"}. Figures are recorded in docs/BENCHMARKS.md
 * with the command that produced them.
 */
import type { Report } from './Report.ts';

const groups: Record<string, () => Promise<{ run: (report: Report, args: string[]) => Promise<void> }>> = {
  engine: () => import('./engine.ts'),
  pipeline: () => import('./pipeline/run.ts'),
  analyzer: () => import('./analyzer.ts'),
  redis: () => import('./redis.ts'),
  api: () => import('./api.ts'),
  stream: () => import('./stream.ts'),
  workers: () => import('./workers.ts'),
  audit: () => import('./audit.ts'),
  soak: () => import('./soak.ts'),
};

const requested = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));
// soak runs for 30 minutes: only when named.
const names = requested.length > 0 ? requested : Object.keys(groups).filter((g) => g !== 'soak');
for (const name of names) {
  const load = groups[name];
  if (load === undefined) {
    process.stderr.write(`unknown benchmark group "${name}"; groups: ${Object.keys(groups).join(', ')}\n`);
    process.exit(2);
  }
  const group = await load();
  await group.run(
    (f) => process.stdout.write(JSON.stringify({ name: f.name, value: round(f.value), unit: f.unit }) + '\n'),
    flags,
  );
}

function round(x: number): number {
  return Number(x.toPrecision(4));
}
