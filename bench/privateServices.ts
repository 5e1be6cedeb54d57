/**
 * Private Redis and PostgreSQL for a benchmark group when REDIS_URL / DATABASE_URL do not name
 * running ones: `scripts/services.sh start` in a directory of this run's own
 * (`.tmp/services/bench-LABEL-PID`, as `npm test` does with its own), stopped and deleted
 * afterwards, also on Ctrl-C. What the environment provides is used as it is.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCRIPT = join(REPO_ROOT, 'scripts', 'services.sh');

export interface Services {
  redisUrl: string;
  databaseUrl: string;
  /** Whether this run started them (then they are private: nothing else uses them). */
  private: boolean;
}

/**
 * Runs `fn` with REDIS_URL and DATABASE_URL set: the environment's, or private instances
 * started for the call (and stopped after it). `say` gets progress notes.
 */
export async function withServices<T>(
  label: string,
  say: (msg: string) => void,
  fn: (services: Services) => Promise<T>,
): Promise<T> {
  const { REDIS_URL: redisUrl, DATABASE_URL: databaseUrl } = process.env;
  if (redisUrl && databaseUrl) return fn({ redisUrl, databaseUrl, private: false });
  const dir = join(REPO_ROOT, '.tmp', 'services', `bench-${label}-${process.pid}`);
  const env = { ...process.env, SERVICES_DIR: dir };
  const stopSync = (): void => {
    try {
      execFileSync('bash', [SCRIPT, 'stop', '--clean'], { env, stdio: 'ignore', timeout: 60_000 });
    } catch {
      // Nothing more to do on the way out.
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    stopSync();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await promisify(execFile)('bash', [SCRIPT, 'start'], { env, timeout: 300_000 });
    const exports = await readFile(join(dir, 'env'), 'utf8');
    const value = (key: string): string | undefined =>
      new RegExp(`^export ${key}=(.+)$`, 'm').exec(exports)?.[1];
    const services = {
      redisUrl: redisUrl || value('REDIS_URL') || '',
      databaseUrl: databaseUrl || value('DATABASE_URL') || '',
      private: !redisUrl,
    };
    if (!services.redisUrl || !services.databaseUrl)
      throw new Error(`scripts/services.sh wrote no REDIS_URL or DATABASE_URL to ${dir}/env`);
    say(
      `started private services (scripts/services.sh, SERVICES_DIR=${dir}): ` +
        `${services.redisUrl}, ${services.databaseUrl}`,
    );
    process.env.REDIS_URL = services.redisUrl;
    process.env.DATABASE_URL = services.databaseUrl;
    try {
      return await fn(services);
    } finally {
      if (redisUrl === undefined) delete process.env.REDIS_URL;
      if (databaseUrl === undefined) delete process.env.DATABASE_URL;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    stopSync();
  }
}
