/**
 * The fault campaign's cast (test/e2e/fault-campaign.test.ts): the Procfile's processes run as
 * a supervisor would run them (a killed one is started again), and the faults of issue 12, each
 * injected and then healed, one at a time, at random moments drawn from a seeded generator.
 */
import { Redis } from 'ioredis';
import { spawnProcess, tail, type WorkerProcess } from './livePipeline.ts';
import type { IsolatedServices } from './services.ts';

/** Every kind of fault, in the order RELIABILITY.md reports them. */
export const FAULT_KINDS = [
  'kill-worker',
  'kill-flusher',
  'kill-scheduler',
  'kill-web',
  'stop-worker',
  'redis-restart',
  'pg-stop-fast',
  'pg-stop-immediate',
  'client-pause',
  'redis-maxmemory',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export type Role = 'web' | 'worker' | 'flusher' | 'scheduler';

const SCRIPTS: Record<Role, string> = {
  web: 'workers/web.ts',
  worker: 'workers/worker.ts',
  flusher: 'workers/flusher.ts',
  scheduler: 'workers/scheduler.ts',
};

const STARTED: Record<Role, string> = {
  web: '"msg":"web listening',
  worker: 'worker started',
  flusher: 'flusher started',
  scheduler: 'scheduler started',
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The processes of one round, by role and slot (two workers, two flushers, two schedulers, one
 * web). A process that exits without having been killed or stopped here is recorded as a crash.
 */
export class Cast {
  readonly all: WorkerProcess[] = [];
  readonly crashes: string[] = [];
  private readonly current = new Map<string, WorkerProcess>();
  private readonly expectedExits = new Set<WorkerProcess>();
  private generation = 0;

  constructor(private readonly env: Record<string, string>) {}

  /** Starts `role` in `slot` and waits until it says it started. */
  async start(role: Role, slot: number): Promise<WorkerProcess> {
    const label = `${role}${slot}#${++this.generation}`;
    const extra: Record<string, string> = role === 'flusher' ? { FLUSH_INTERVAL_MS: '20' } : {};
    const p = spawnProcess(label, SCRIPTS[role], { ...this.env, ...extra });
    this.all.push(p);
    this.current.set(`${role}${slot}`, p);
    void p.exited.then(({ code, signal }) => {
      if (!this.expectedExits.has(p)) this.crashes.push(`${label} exited (code ${code}, signal ${signal})`);
    });
    if (role === 'web') await this.waitReady(p);
    else await p.waitForOutput(STARTED[role], 180_000);
    return p;
  }

  private async waitReady(p: WorkerProcess): Promise<void> {
    // Generous: on a loaded machine, starting node with tsx can take most of a minute.
    const deadline = Date.now() + 180_000;
    for (;;) {
      const res = await fetch(`http://127.0.0.1:${this.env.HTTP_PORT}/health`).catch(() => null);
      if (res !== null && res.status < 500) return;
      if (!p.isRunning() || Date.now() > deadline)
        throw new Error(`${p.label} did not answer /health\n${tail(p.output())}`);
      await sleep(100);
    }
  }

  get(role: Role, slot: number): WorkerProcess {
    return this.current.get(`${role}${slot}`)!;
  }

  /** SIGKILL, then (after `downMs`) a fresh process in the same slot. */
  async killAndRestart(role: Role, slot: number, downMs: number): Promise<void> {
    const p = this.get(role, slot);
    this.expectedExits.add(p);
    await p.kill();
    await sleep(downMs);
    await this.start(role, slot);
  }

  /** SIGTERM every process still running; returns those that did not exit with code 0. */
  async stopAll(): Promise<string[]> {
    const running = [...this.current.values()].filter((p) => p.isRunning());
    for (const p of running) this.expectedExits.add(p);
    await Promise.all(running.map((p) => p.stop(30_000)));
    const bad: string[] = [];
    for (const p of running) {
      const { code, signal } = await p.exited;
      if (code !== 0) bad.push(`${p.label}: code ${code}, signal ${signal}\n${tail(p.output(), 15)}`);
    }
    return bad;
  }

  /** SIGKILL everything (clean-up after a failure). */
  async killAll(): Promise<void> {
    for (const p of this.all) this.expectedExits.add(p);
    await Promise.all(this.all.map((p) => p.kill()));
  }

  outputs(lines = 30): string {
    return this.all.map((p) => `--- ${p.label} (pid ${p.pid}) ---\n${tail(p.output(), lines)}`).join('\n');
  }
}

export interface FaultContext {
  cast: Cast;
  services: IsolatedServices;
  /** A connection of the injector's own (CONFIG, CLIENT PAUSE, INFO). */
  admin: Redis;
  /** Shard queue names' BullMQ key prefix, to see whether a shard job is active. */
  activeShardJobs(): Promise<number>;
  /** Entries waiting in the outboxes (the flushers are mid-transaction when there are some). */
  outboxLength(): Promise<number>;
  lockDurationMs: number;
  rnd: () => number;
}

/** What one injected fault did, for the round's report. */
export interface FaultRecord {
  kind: FaultKind;
  /** Wall ms from the round's start. */
  at: number;
  /** How long the fault lasted (down, frozen, paused, full). */
  durationMs: number;
  /** What it landed on: e.g. "shard job active", "outbox 312". */
  landed: string;
}

/** Waits up to `ms` for `condition`; returns whether it held. */
async function within(ms: number, condition: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(5);
  }
  return false;
}

/** Injects one fault of `kind` and heals it; resolves once the system is whole again. */
export async function injectFault(kind: FaultKind, ctx: FaultContext): Promise<Omit<FaultRecord, 'at'>> {
  const { cast, services, admin, rnd } = ctx;
  const started = Date.now();
  const slot = rnd() < 0.5 ? 0 : 1;
  const done = (landed: string): Omit<FaultRecord, 'at'> => ({
    kind,
    durationMs: Date.now() - started,
    landed,
  });
  switch (kind) {
    case 'kill-worker': {
      // Mid-batch: wait (briefly) for a shard job in a worker's hands.
      const busy = await within(3000, async () => (await ctx.activeShardJobs()) > 0);
      await cast.killAndRestart('worker', slot, Math.floor(rnd() * 1500));
      return done(busy ? 'shard job active' : 'idle');
    }
    case 'kill-flusher': {
      // Mid-transaction: wait for outbox entries, then let a flush begin.
      const busy = await within(3000, async () => (await ctx.outboxLength()) > 0);
      await sleep(Math.floor(rnd() * 30));
      await cast.killAndRestart('flusher', slot, Math.floor(rnd() * 1500));
      return done(busy ? 'outbox not empty' : 'idle');
    }
    case 'kill-scheduler':
      await cast.killAndRestart('scheduler', slot, Math.floor(rnd() * 1500));
      return done('-');
    case 'kill-web':
      await cast.killAndRestart('web', 0, Math.floor(rnd() * 1500));
      return done('-');
    case 'stop-worker': {
      // Frozen past its lock: another worker takes its shard jobs over; then it wakes up.
      const busy = await within(3000, async () => (await ctx.activeShardJobs()) > 0);
      const p = cast.get('worker', slot);
      p.child.kill('SIGSTOP');
      try {
        await sleep(2 * ctx.lockDurationMs + Math.floor(rnd() * ctx.lockDurationMs));
      } finally {
        p.child.kill('SIGCONT');
      }
      return done(busy ? 'shard job active' : 'idle');
    }
    case 'redis-restart':
      await services.redisRestart();
      return done('-');
    case 'pg-stop-fast':
    case 'pg-stop-immediate': {
      const busy = await ctx.outboxLength();
      await services.pgStop(kind === 'pg-stop-fast' ? 'fast' : 'immediate');
      try {
        await sleep(1000 + Math.floor(rnd() * 3000));
      } finally {
        await services.pgStart();
      }
      return done(`outbox ${busy}`);
    }
    case 'client-pause': {
      // Every client's commands wait (ALL: reads too) for longer than a lock lasts.
      const ms = 2 * ctx.lockDurationMs + Math.floor(rnd() * ctx.lockDurationMs);
      await admin.call('CLIENT', 'PAUSE', String(ms), 'ALL');
      await sleep(ms);
      return done(`${ms} ms`);
    }
    case 'redis-maxmemory': {
      // Full: maxmemory just under what is used, noeviction (as production must run), so every
      // write is refused with OOM until memory is given back.
      const info = await admin.info('memory');
      const used = Number(/used_memory:(\d+)/.exec(info)?.[1]);
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', String(Math.max(1_000_000, used - 1)));
      try {
        await sleep(1500 + Math.floor(rnd() * 2500));
      } finally {
        await admin.config('SET', 'maxmemory', '0');
      }
      return done(`used ${(used / 1e6).toFixed(1)} MB`);
    }
  }
}
