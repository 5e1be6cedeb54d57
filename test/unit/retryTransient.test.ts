import { pino, type Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  createTransientRetry,
  isTransientRedisError,
  TransientBudgetError,
  type OutageState,
} from '../../src/storage/retryTransient.ts';
import { isResourcePgError, isRetryablePgError } from '../../src/storage/retryablePg.ts';

/** A logger that keeps what it was told. */
function recordingLog(): { log: Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const log = pino(
    { level: 'trace' },
    { write: (s: string) => lines.push(JSON.parse(s) as { level: number; msg: string }) },
  );
  return { log, lines };
}

const refused = (): Error =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

describe('createTransientRetry: an outage delays work and loses none', () => {
  it('retries a transient failure until it succeeds, with one warning and one recovery line per outage', async () => {
    const { log, lines } = recordingLog();
    let clock = 0;
    const states: (OutageState | null)[] = [];
    const retry = createTransientRetry({
      log,
      dependency: 'PostgreSQL',
      budgetMs: 60_000,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
      onState: (s) => states.push(s === null ? null : { ...s }),
    });
    let calls = 0;
    const job = (): Promise<string> => (++calls <= 5 ? Promise.reject(refused()) : Promise.resolve('stored'));
    // Two jobs wait in the same outage.
    const [a, b] = await Promise.all([
      retry.run(job),
      retry.run(async () => (clock < 500 ? Promise.reject(refused()) : 'b')),
    ]);
    expect(a).toBe('stored');
    expect(b).toBe('b');
    expect(calls).toBe(6);
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toBe('PostgreSQL unreachable; jobs wait and retry (TRANSIENT_RETRY_MS)');
    expect(lines.filter((l) => l.msg === 'PostgreSQL reachable again; waiting jobs resume')).toHaveLength(1);
    expect(states[0]).toEqual({ since: 0, reason: 'connect ECONNREFUSED 127.0.0.1:5432' });
    expect(states.at(-1)).toBeNull();
    expect(retry.state()).toBeNull();
  });

  it('gives up after the budget, counted from the first failure, naming the dependency and the setting', async () => {
    let clock = 1000;
    const retry = createTransientRetry({
      log: pino({ level: 'silent' }),
      dependency: 'PostgreSQL',
      budgetMs: 10_000,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    });
    const failure = retry.run(() => Promise.reject(refused()));
    await expect(failure).rejects.toBeInstanceOf(TransientBudgetError);
    await expect(failure).rejects.toThrow(
      /^PostgreSQL unreachable for \d+ s \(TRANSIENT_RETRY_MS is 10000\): connect ECONNREFUSED 127\.0\.0\.1:5432$/,
    );
    expect(clock - 1000).toBeGreaterThanOrEqual(10_000);
    expect(retry.state()).not.toBeNull();
  });

  it('throws anything that is not transient at once, unretried', async () => {
    let calls = 0;
    const retry = createTransientRetry({
      log: pino({ level: 'silent' }),
      dependency: 'PostgreSQL',
      budgetMs: 10_000,
      now: () => 0,
      sleep: async () => {},
    });
    const bad = Object.assign(new Error('value too long for type character varying(128)'), { code: '22001' });
    await expect(
      retry.run(() => {
        calls++;
        return Promise.reject(bad);
      }),
    ).rejects.toBe(bad);
    expect(calls).toBe(1);
  });
});

describe('createTransientRetry: recovery', () => {
  it('wakes every call still in its backoff as soon as one call gets through', async () => {
    let down = true;
    const retry = createTransientRetry({
      log: pino({ level: 'silent' }),
      dependency: 'PostgreSQL',
      budgetMs: 600_000,
      now: Date.now,
      // A long backoff: without the wake-up the waiting call would sleep for a minute.
      backoff: { baseMs: 60_000, maxMs: 60_000 },
    });
    let waitingCalls = 0;
    const waiting = retry.run(async () => {
      waitingCalls++;
      if (down) throw refused();
      return 'stored';
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(waitingCalls).toBe(1);
    down = false;
    const started = Date.now();
    // Another call gets through: the outage is over, and the first one tries again at once.
    await retry.run(async () => 'probe');
    expect(await waiting).toBe('stored');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(waitingCalls).toBe(2);
  });
});

describe('isTransientRedisError: Redis refusing for now is not bad input', () => {
  it('takes a full Redis (OOM under noeviction), a loading or failing-over one, and lost connections as transient', () => {
    // The reply a BullMQ script got in the fault campaign while Redis was at its maxmemory.
    const oom = new Error(
      "OOM command not allowed when used memory > 'maxmemory'. script: 5ab432e88830d573e2fa33392ffbd4ad25a9b100, on @user_script:589.",
    );
    for (const err of [
      oom,
      new Error('LOADING Redis is loading the dataset in memory'),
      new Error("READONLY You can't write against a read only replica."),
      new Error('CLUSTERDOWN The cluster is down'),
      new Error('Connection is closed.'),
      refused(),
    ])
      expect(isTransientRedisError(err), err.message).toBe(true);
  });

  it('leaves errors about the command itself alone', () => {
    for (const err of [
      new Error('WRONGTYPE Operation against a key holding the wrong kind of value'),
      new Error('ERR syntax error'),
      new Error('Missing lock for job 12. moveToDelayed'),
      'OOM',
      null,
    ])
      expect(isTransientRedisError(err), String(err)).toBe(false);
  });

  it('lets a retry wait out a full Redis', async () => {
    let calls = 0;
    const retry = createTransientRetry({
      log: recordingLog().log,
      dependency: 'Redis',
      budgetMs: 60_000,
      now: () => 0,
      isTransient: isTransientRedisError,
      sleep: async () => {},
    });
    const result = await retry.run(async () => {
      if (++calls < 3) throw new Error("OOM command not allowed when used memory > 'maxmemory'.");
      return 'queued';
    });
    expect({ result, calls }).toEqual({ result: 'queued', calls: 3 });
  });
});

describe('isRetryablePgError and isResourcePgError: PostgreSQL short of resources for now', () => {
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

  it('waits out a server short of memory, disk or lock-table room, and splits batches for it', () => {
    for (const [code, message] of [
      ['53000', 'insufficient resources'],
      ['53100', 'could not extend file: No space left on device'],
      ['53200', 'out of shared memory'],
    ] as const) {
      expect(isRetryablePgError(pgError(code, message)), code).toBe(true);
      expect(isResourcePgError(pgError(code, message)), code).toBe(true);
    }
  });

  it('does not split for connection limits, which a smaller statement does not cure, nor for bad data', () => {
    expect(isRetryablePgError(pgError('53300', 'too many connections'))).toBe(true);
    expect(isResourcePgError(pgError('53300', 'too many connections'))).toBe(false);
    for (const code of ['23505', '22P02', '42P01'])
      expect(isRetryablePgError(pgError(code, 'bad')) || isResourcePgError(pgError(code, 'bad')), code).toBe(
        false,
      );
  });
});
