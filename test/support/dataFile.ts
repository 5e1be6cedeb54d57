import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (test/support/ is two levels down). */
const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** The shared market data beside the repository (as CI lays it out). */
const SHARED = join(REPO, '..', 'shared', 'data');

/**
 * The path of a market data file by its name: `data/<name>` when the repository carries a
 * copy, else the file of that name in one of `../shared/data/<kind>/` (trades, quotes,
 * candles…). Throws, naming both places, when neither has it.
 */
export function dataFile(name: string): string {
  const local = join(REPO, 'data', name);
  if (existsSync(local)) return local;
  const kinds = existsSync(SHARED)
    ? readdirSync(SHARED).filter((kind) => statSync(join(SHARED, kind)).isDirectory())
    : [];
  for (const kind of kinds) {
    const shared = join(SHARED, kind, name);
    if (existsSync(shared)) return shared;
  }
  throw new Error(`data file ${name} is neither in ${join(REPO, 'data')} nor in ${SHARED}/<kind>/`);
}
