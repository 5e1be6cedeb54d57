/**
 * Set-up shared by the end-to-end tests that run the real Procfile processes
 * (`node --import tsx workers/…`, started with livePipeline's spawn helpers):
 *
 * - {@link freePort}: a free loopback port for a process to listen on.
 * - {@link createKey}: `outcome-tracker api-key create … --json`, as an operator runs it.
 * - {@link outputsOf}: the tail of each process's output, for failure messages.
 * - {@link useRealProcesses}: the processes a test started and its pipeline client, killed and
 *   closed after each test.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { afterEach, expect } from 'vitest';
import { tail, type PipelineClient, type WorkerProcess } from './livePipeline.ts';

/** A loopback port that was free a moment ago (listen on 0, close). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Where the command line runs: the repository, on a test database. */
export interface CliTarget {
  repoRoot: string;
  databaseUrl: string;
}

/** `outcome-tracker api-key create … --json`, as an operator runs it; the plain key. */
export async function createKey(target: CliTarget, tenant: string, scopes: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['bin/outcome-tracker.js', 'api-key', 'create', '--tenant', tenant, '--scopes', scopes, '--json'],
    { cwd: target.repoRoot, env: { ...process.env, DATABASE_URL: target.databaseUrl }, timeout: 60_000 },
  );
  const line = JSON.parse(stdout) as { key: string; tenant: string };
  expect(line.tenant).toBe(tenant);
  return line.key;
}

/** The last lines of each process's output, headed by its label and pid. */
export function outputsOf(processes: readonly WorkerProcess[]): string {
  return processes.map((p) => `--- ${p.label} (pid ${p.pid}) ---\n${tail(p.output())}`).join('\n');
}

export interface RealProcesses {
  /** The processes a test started: push each one here. */
  readonly processes: WorkerProcess[];
  /** The test's pipeline client, if it made one. */
  client: PipelineClient | undefined;
  /** {@link outputsOf} the processes. */
  outputs(): string;
}

/** Kills every process and closes the client after each test (registers an afterEach). */
export function useRealProcesses(): RealProcesses {
  const processes: WorkerProcess[] = [];
  const run: RealProcesses = { processes, client: undefined, outputs: () => outputsOf(processes) };
  afterEach(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    processes.length = 0;
    await run.client?.close();
    run.client = undefined;
  });
  return run;
}
