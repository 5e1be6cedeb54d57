/**
 * Every Procfile process stops on SIGTERM also when nobody reads its output any more (the
 * Procfile runner or log shipper that read its stdout died): it used to retry its last log line
 * for ever at exit, and never exited (docs/OPERATIONS.md "Stopping processes").
 */
import { describe, expect, it } from 'vitest';
import { spawnProcess } from '../support/livePipeline.ts';
import { freePort, useRealProcesses } from '../support/realProcesses.ts';
import { redisUrl, useRedisNamespace, useTestDatabase } from '../support/services.ts';

// One database for the file: each test starts one process, and none reads another's rows.
const db = useTestDatabase();
const ns = useRedisNamespace('shutdown-e2e');
const { processes } = useRealProcesses();

const PROCESSES = [
  { name: 'worker', started: '"msg":"worker started"' },
  { name: 'flusher', started: '"msg":"flusher started"' },
  { name: 'scheduler', started: '"msg":"scheduler started"' },
  { name: 'web', started: '"msg":"web started"' },
];

describe('stopping the Procfile processes', () => {
  it.each(PROCESSES)(
    '$name exits 0 on SIGTERM after its output reader has gone',
    async ({ name, started }) => {
      const env = {
        REDIS_URL: redisUrl(),
        DATABASE_URL: db.url,
        QUEUE_PREFIX: ns.prefix,
        SHARDS: '2',
        METRICS_PORT: '0',
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(await freePort()),
      };
      const p = spawnProcess(name, `workers/${name}.ts`, env);
      processes.push(p);
      await p.waitForOutput(started);
      // The reader goes: the process's next log lines fail with EPIPE.
      p.child.stdout!.destroy();
      p.child.stderr!.destroy();
      p.child.kill('SIGTERM');
      expect(await p.exited).toEqual({ code: 0, signal: null });
    },
  );
});
