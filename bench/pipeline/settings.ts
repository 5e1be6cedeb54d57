/** The pipeline group's settings (its command-line flags) and its log line. */
export interface Settings {
  quick: boolean;
  only: Set<string> | null;
  shards: number;
  batch: number;
  workers: number;
  profile: boolean;
  /** Leave the recovery data set in Redis (for profiling loadShard on its own). */
  keepRecovery: boolean;
  /** Extra V8 flags for the worker processes, e.g. --v8=--max-semi-space-size=64. */
  childV8: string[];
  /** TICK_BUFFER_SIZE of the workers. */
  bufferSize: number;
  /** `--metrics`: the shard workers count into a Prometheus registry as the worker process does. */
  metrics: boolean;
  openSignals: number;
  pipelineHistory: number;
  ticks: number;
  latencyRate: number;
  latencySeconds: number;
  latencyIntervalMs: number;
  /** `--rewrite-at=S`: ask Redis for an AOF rewrite S seconds into each measured paced run (the tail with one). */
  rewriteAt: number | null;
  intakeJobs: number;
  /** Signals in one register-batch job of the registration bench (the intake's batch, 64, over 8 shards). */
  registerBatch: number;
  /** INTAKE_CONCURRENCY of the intake and of its no-op baseline. */
  intakeConcurrency: number;
  /** Intake processes sharing the queue (each with INTAKE_CONCURRENCY), and no-op ones likewise. */
  intakeWorkers: number;
  flushOutcomes: number;
  recoverySignals: number;
  recoveryHistory: number;
  /**
   * `--recovery-rounds=N`: take-overs with the Procfile's flags on the one seeded data set; their
   * median is the figure, beside their fastest and slowest (a take-over's time moves with the
   * machine's other load more than most figures here).
   */
  recoveryRounds: number;
}

export function settings(flags: string[]): Settings {
  const quick = flags.includes('--quick');
  const num = (name: string, fallback: number): number => {
    const f = flags.find((x) => x.startsWith(`--${name}=`));
    return f === undefined ? fallback : Number(f.slice(name.length + 3));
  };
  const only = flags.find((f) => f.startsWith('--only='));
  return {
    quick,
    only: only === undefined ? null : new Set(only.slice('--only='.length).split(',')),
    shards: num('shards', 8),
    batch: num('batch', 2000),
    workers: num('workers', 2),
    profile: flags.includes('--profile'),
    keepRecovery: flags.includes('--keep-recovery'),
    bufferSize: num('buffer', 20_000), // TICK_BUFFER_SIZE default
    metrics: flags.includes('--metrics'),
    childV8: flags.filter((f) => f.startsWith('--v8=')).map((f) => f.slice('--v8='.length)),
    openSignals: num('signals', quick ? 20_000 : 100_000),
    pipelineHistory: quick ? 200 : 1000,
    ticks: num('ticks', quick ? 400_000 : 6_000_000),
    latencyRate: num('rate', 20_000),
    latencySeconds: num('latency-seconds', quick ? 5 : 20),
    latencyIntervalMs: num('interval', 10),
    rewriteAt: flags.some((f) => f.startsWith('--rewrite-at=')) ? num('rewrite-at', 10) : null,
    // Enough for a steady state: at 20,000 both sides spent a larger share of the run starting
    // up, the no-op more (docs/BENCHMARKS.md, 2026-12-05 03:00).
    intakeJobs: num('intake-jobs', quick ? 2000 : 100_000),
    registerBatch: num('register-batch', 8),
    intakeConcurrency: num('intake-concurrency', 512), // INTAKE_CONCURRENCY default
    intakeWorkers: num('intake-workers', 1),
    flushOutcomes: quick ? 2000 : 20_000,
    recoverySignals: quick ? 100_000 : 1_000_000,
    recoveryHistory: quick ? 2000 : 20_000,
    recoveryRounds: Math.max(1, num('recovery-rounds', 1)),
  };
}

export const say = (msg: string): void => {
  process.stderr.write(`[pipeline] ${msg}\n`);
};
