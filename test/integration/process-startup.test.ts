/**
 * The Procfile's processes refuse bad settings the way the CLI refuses bad arguments: one message
 * on stderr naming the process and every bad variable, exit code 2, no stack trace. PostgreSQL
 * unreachable at start is waited out (TRANSIENT_RETRY_MS), then exit code 1, one line as well.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/realProcesses.ts';
import { databaseUrl, redisUrl } from '../support/services.ts';
import { TcpProxy } from '../support/tcpProxy.ts';

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

  it('PostgreSQL unreachable for longer than TRANSIENT_RETRY_MS at start: one line, exit code 1, no stack trace', async () => {
    const t0 = Date.now();
    const { code, stderr, stdout } = await start('workers/web.ts', {
      REDIS_URL: 'redis://127.0.0.1:1',
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      MIGRATE_ON_START: 'on',
      TRANSIENT_RETRY_MS: '1500',
    });
    expect(code).toBe(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500); // it waited first
    expect(stdout).toMatch(/PostgreSQL/); // the warning while it waited
    expect(stderr).toMatch(/^web could not start: /);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).not.toMatch(STACK_FRAME);
  }, 60_000);

  it('waits out PostgreSQL unreachable at start, then starts and serves', async () => {
    // PostgreSQL behind a port that refuses connections until the process has said it waits
    // for PostgreSQL, then forwards them.
    const target = new URL(databaseUrl());
    const proxy = await TcpProxy.start(
      { host: target.hostname, port: Number(target.port || 5432) },
      await freePort(),
      { refusing: true },
    );
    const port = proxy.port;
    const via = new URL(target.href);
    via.hostname = '127.0.0.1';
    via.port = String(port);
    const httpPort = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/web.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        REDIS_URL: redisUrl(),
        DATABASE_URL: via.href,
        HTTP_PORT: String(httpPort),
        QUEUE_PREFIX: `startup${process.pid}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    try {
      for (let i = 0; i < 300 && !/PostgreSQL/.test(output) && child.exitCode === null; i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(output, 'it said it waits for PostgreSQL').toMatch(/PostgreSQL/);
      await proxy.restore();
      let health = 0;
      for (let i = 0; i < 150 && health !== 200 && child.exitCode === null; i++) {
        health = await fetch(`http://127.0.0.1:${httpPort}/health`).then(
          (r) => r.status,
          () => 0,
        );
        if (health !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      expect(child.exitCode, output).toBeNull();
      expect(health, output).toBe(200);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('close', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await proxy.close();
    }
  }, 60_000);
});
