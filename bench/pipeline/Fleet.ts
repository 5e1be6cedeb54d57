/** The worker child processes (worker.ts): spawned, driven over IPC and stopped. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildConfig, ChildMessage } from './worker.ts';

const CHILD = fileURLToPath(new URL('./worker.ts', import.meta.url));

export interface JobDone {
  pub: number;
  at: number;
  n: number;
}

/** Worker child processes and what they report. */
export class Fleet {
  completedTicks = 0;
  completedJobs = 0;
  /** Per job, while recording (latency). */
  recording: JobDone[] | null = null;
  readonly doneByShard = new Map<number, JobDone[]>();
  messages: ChildMessage[] = [];
  private error: Error | null = null;
  private wake: (() => void)[] = [];

  private constructor(
    readonly children: ChildProcess[],
    readonly spawnedAt: number,
  ) {}

  static async spawn(configs: ChildConfig[], profile: boolean, v8: string[]): Promise<Fleet> {
    const execArgv = ['--import', 'tsx', '--max-old-space-size=8192', ...v8];
    if (profile) execArgv.push('--cpu-prof', '--cpu-prof-dir=.tmp/bench-profiles');
    const spawnedAt = Date.now();
    const children = configs.map((c) =>
      fork(CHILD, [JSON.stringify(c)], { execArgv, stdio: ['ignore', 2, 2, 'ipc'] }),
    );
    const fleet = new Fleet(children, spawnedAt);
    for (const child of children) {
      child.on('message', (m: ChildMessage) => fleet.onMessage(m));
      child.on('exit', (code) => {
        if (code !== 0 && code !== null) fleet.fail(new Error(`worker child exited with ${code}`));
      });
    }
    await fleet.until(
      () => fleet.messages.filter((m) => m.e === 'ready').length === children.length,
      120_000,
    );
    return fleet;
  }

  /**
   * One worker process for each group of shards under `prefix` (REDIS_URL): the real shard
   * workers, or workers that only acknowledge (`noop-shard`, the raw baselines).
   */
  static shards(
    mode: 'shard' | 'noop-shard',
    prefix: string,
    groups: number[][],
    opts: { bufferSize: number; v8: string[]; profile?: boolean; metrics?: boolean },
  ): Promise<Fleet> {
    return Fleet.spawn(
      groups.map((shards) => ({
        mode,
        redisUrl: process.env.REDIS_URL!,
        prefix,
        shards,
        bufferSize: opts.bufferSize,
        ...(opts.metrics === true && { metrics: true }),
      })),
      opts.profile ?? false,
      opts.v8,
    );
  }

  private onMessage(m: ChildMessage): void {
    if (m.e === 'done') {
      this.completedTicks += m.n;
      this.completedJobs++;
      const rec = { pub: m.pub, at: m.at, n: m.n };
      this.recording?.push(rec);
      let list = this.doneByShard.get(m.shard);
      if (list === undefined) this.doneByShard.set(m.shard, (list = []));
      list.push(rec);
    } else if (m.e === 'failed') {
      this.fail(new Error(`job ${m.id ?? ''} on shard ${m.shard ?? '-'} failed: ${m.error}`));
    } else {
      this.messages.push(m);
    }
    this.poke();
  }

  private fail(err: Error): void {
    this.error ??= err;
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = [];
    for (const f of w) f();
  }

  /** Resolves once `pred` holds (checked on every message); rejects on a child's failure. */
  async until(pred: () => boolean, timeoutMs = 600_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      if (this.error) throw this.error;
      if (pred()) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for the worker processes');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.wake.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** GC and event-loop figures of the children since the previous `cpuMs` call. */
  pauses = { gcMs: 0, gcMaxMs: 0, loopMaxMs: 0, heapMb: 0, rssMb: 0, maxRssMb: 0 };

  /** CPU milliseconds used by the children so far (and their pauses since the last call). */
  async cpuMs(): Promise<number> {
    const before = this.messages.length;
    for (const c of this.children) c.send({ cmd: 'cpu' });
    await this.until(
      () => this.messages.slice(before).filter((m) => m.e === 'cpu').length === this.children.length,
      30_000,
    );
    const replies = this.messages
      .slice(before)
      .filter((m): m is Extract<ChildMessage, { e: 'cpu' }> => m.e === 'cpu');
    this.pauses = {
      gcMs: replies.reduce((a, m) => a + m.gcMs, 0),
      gcMaxMs: Math.max(...replies.map((m) => m.gcMaxMs)),
      loopMaxMs: Math.max(...replies.map((m) => m.loopMaxMs)),
      heapMb: replies.reduce((a, m) => a + m.heapMb, 0),
      rssMb: replies.reduce((a, m) => a + m.rssMb, 0),
      maxRssMb: replies.reduce((a, m) => a + m.maxRssMb, 0),
    };
    return replies.reduce((a, m) => a + m.cpuMs, 0);
  }

  async stop(): Promise<void> {
    const exits = this.children.map((c) => new Promise<void>((resolve) => c.once('exit', () => resolve())));
    for (const c of this.children) if (c.connected) c.send({ cmd: 'stop' });
    const timer = setTimeout(() => {
      for (const c of this.children) c.kill('SIGKILL');
    }, 60_000);
    await Promise.all(exits);
    clearTimeout(timer);
  }
}

export function splitShards(shards: number, workers: number): number[][] {
  const out: number[][] = Array.from({ length: Math.min(workers, shards) }, () => []);
  for (let s = 0; s < shards; s++) out[s % out.length]!.push(s);
  return out;
}
