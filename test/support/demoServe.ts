/**
 * `npm run demo -- --serve` as a person runs it (scripts/demo.sh, private Redis and PostgreSQL
 * of its own), in a process group of its own so that "Ctrl-C" (SIGINT to the group) reaches what
 * a terminal's would. For the --serve test and `npm run screenshot`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface ServedDemo {
  child: ChildProcess;
  dashboardUrl: string;
  bullBoardUrl: string;
  key: string;
  /** The report file the demo wrote. */
  reportPath: string;
  /** The services directory scripts/demo.sh made for this run (removed when it stops). */
  servicesDir: string;
  /** Everything the demo started and must stop: its process group, Redis and PostgreSQL. */
  pids(): number[];
  /** Everything printed so far (stdout and stderr). */
  output(): string;
  /** Ctrl-C: SIGINT to the process group; resolves with the exit code of scripts/demo.sh. */
  interrupt(): Promise<number | null>;
}

/** Starts the demo with `--serve` and resolves once it prints the key it serves with. */
export async function serveDemo(options: { out: string; timeoutMs?: number }): Promise<ServedDemo> {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
  // Private services, started and stopped by scripts/demo.sh itself.
  delete env.REDIS_URL;
  delete env.DATABASE_URL;
  delete env.SERVICES_DIR;
  const child = spawn('bash', ['scripts/demo.sh', '--serve', '--out', options.out], {
    cwd: REPO,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (text += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const servicesDir = join(REPO, '.tmp', 'services', `demo-${child.pid}`);

  const ready = await Promise.race([
    new Promise<true>((resolve) => {
      const check = (): void => {
        if (/API key\s+otk_\S+/.test(text)) resolve(true);
        else setTimeout(check, 500);
      };
      check();
    }),
    exited.then(() => false as const),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), options.timeoutMs ?? 300_000)),
  ]);
  if (!ready) {
    process.kill(-child.pid!, 'SIGINT');
    await exited;
    throw new Error(`the demo did not start serving:\n${text.slice(-3000)}`);
  }
  const match = (re: RegExp): string => {
    const m = re.exec(text);
    if (!m) throw new Error(`the demo did not print ${re}:\n${text.slice(-3000)}`);
    return m[1]!;
  };

  const pids = (): number[] => {
    // The group: bash, tsx and the demo, and the Procfile processes it printed (and any other).
    const group = execFileSync('ps', ['-e', '-o', 'pid=,pgid='], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().split(/\s+/).map(Number))
      .filter(([, pgid]) => pgid === child.pid)
      .map(([pid]) => pid!);
    const printed = [...text.matchAll(/ pid (\d+)/g)].map((m) => Number(m[1]));
    const own = [...new Set([child.pid!, ...group, ...printed])];
    const redis = readPid(join(servicesDir, 'redis', 'redis.pid'));
    const postgres = readPid(join(servicesDir, 'pg', 'data', 'postmaster.pid'));
    return [...own, ...(redis === null ? [] : [redis]), ...(postgres === null ? [] : [postgres])];
  };
  return {
    child,
    dashboardUrl: match(/dashboard\s+(http:\/\/\S+)/),
    bullBoardUrl: match(/Bull Board\s+(http:\/\/\S+)/),
    key: match(/API key\s+(otk_\S+)/),
    reportPath: match(/opens offline\): (\S+)/),
    servicesDir,
    pids,
    output: () => text,
    interrupt: async () => {
      process.kill(-child.pid!, 'SIGINT');
      return exited;
    },
  };
}

function readPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Whether `pid` is a running process (a zombie waiting for its parent's wait counts as gone). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
