import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tick } from '../../machines/types.ts';
import { readTicks } from '../../src/ticks/readTicks.ts';

/** The repository root (test/support/ is two levels down). */
const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** The shared market data beside the repository (as CI lays it out). */
const SHARED = join(REPO, '..', 'shared', 'data');

/** The name and its other compression: `x.csv` ↔ `x.csv.gz` (readTicks reads either). */
function variants(name: string): string[] {
  return [name, name.endsWith('.gz') ? name.slice(0, -3) : `${name}.gz`];
}

/**
 * The path of a market data file by its name: `data/<name>` when the repository carries a
 * copy, else the file of that name in one of `../shared/data/<kind>/` (trades, quotes,
 * candles…). A copy compressed differently (`.csv` vs `.csv.gz`) counts as the same file.
 * Throws, naming both places, when neither has it.
 */
export function dataFile(name: string): string {
  for (const file of variants(name)) {
    const local = join(REPO, 'data', file);
    if (existsSync(local)) return local;
  }
  const kinds = existsSync(SHARED)
    ? readdirSync(SHARED).filter((kind) => statSync(join(SHARED, kind)).isDirectory())
    : [];
  for (const kind of kinds) {
    for (const file of variants(name)) {
      const shared = join(SHARED, kind, file);
      if (existsSync(shared)) return shared;
    }
  }
  throw new Error(`data file ${name} is neither in ${join(REPO, 'data')} nor in ${SHARED}/<kind>/`);
}

/** Every tick of the market data file `name` (see {@link dataFile}), in file order. */
export async function readDataTicks(name: string): Promise<Tick[]> {
  const ticks: Tick[] = [];
  for await (const t of readTicks(dataFile(name))) ticks.push(t);
  return ticks;
}
