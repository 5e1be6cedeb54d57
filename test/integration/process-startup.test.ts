/**
 * The Procfile's processes refuse bad settings the way the CLI refuses bad arguments: one message
 * on stderr naming the process and every bad variable, exit code 2, no stack trace; a service
 * unreachable at start is exit code 1, one line as well.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;

function start(
  file: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: ROOT,
      // Only what is given: none of the test run's own service addresses.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

/** No frame of a stack trace ("    at fn (file:line:col)"). */
const STACK_FRAME = /^\s+at .+[:(]/m;

describe('process start-up', () => {
  it.each(['worker', 'flusher', 'scheduler', 'web'])(
    '%s: bad settings are one message naming each, exit code 2, no stack trace',
    async (name) => {
      const { code, stderr } = await start(`workers/${name}.ts`, {
        REDIS_URL: 'redis://127.0.0.1:1',
        DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
        SHARDS: 'many',
        SWEEP_CRON: 'every ten seconds',
        LOG_LEVEL: 'loud',
      });
      expect(code).toBe(2);
      expect(stderr).toMatch(new RegExp(`^${name}: invalid configuration:`));
      for (const variable of ['SHARDS', 'SWEEP_CRON', 'LOG_LEVEL']) expect(stderr).toContain(variable);
      expect(stderr).not.toMatch(STACK_FRAME);
    },
    60_000,
  );

  it('a process without a setting it needs names it, exit code 2', async () => {
    const { code, stderr } = await start('workers/flusher.ts', { REDIS_URL: 'redis://127.0.0.1:1' });
    expect(code).toBe(2);
    expect(stderr).toMatch(/^flusher: missing configuration: DATABASE_URL/);
    expect(stderr).not.toMatch(STACK_FRAME);
  }, 60_000);

  it('PostgreSQL unreachable for the migration at start: one line, exit code 1, no stack trace', async () => {
    const { code, stderr } = await start('workers/web.ts', {
      REDIS_URL: 'redis://127.0.0.1:1',
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      MIGRATE_ON_START: 'on',
      LOG_LEVEL: 'silent',
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^web could not start: /);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).not.toMatch(STACK_FRAME);
  }, 60_000);
});
