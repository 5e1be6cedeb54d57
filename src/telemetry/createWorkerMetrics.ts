import { UnrecoverableError, type Worker } from 'bullmq';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { IntakeMetrics } from '../live/createIntakeWorkers.ts';
import type { CommittedShardJob } from '../live/createShardWorkers.ts';
import { signalRejections } from './signalRejections.ts';

/** The operations an `op` label names; anything else (a malformed job's) is `invalid`. */
const OPS = new Set(['amend', 'cancel', 'exit']);
const opLabel = (op: string | null | undefined): string => (op != null && OPS.has(op) ? op : 'invalid');

/** Buckets of job latencies, seconds: 5 ms to a minute. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface WorkerMetrics {
  intake: IntakeMetrics;
  /** createShardWorkers' `onCommitted`. */
  onShardCommitted(committed: CommittedShardJob): void;
  /** Counts the deliveries of the webhook worker (from its own events). */
  watchWebhooks(worker: Worker): void;
}

/**
 * The worker process's metrics (docs/OPERATIONS.md "Metrics"), counted at job boundaries:
 * per intake job, per committed shard job (never per tick: a tick job's counts come from its
 * delta), per webhook delivery attempt. `shards` are the shards this process serves: their
 * series start at 0, so `rate()` sees the first increase.
 */
export function createWorkerMetrics(registry: Registry, now: () => number, shards: number[]): WorkerMetrics {
  const registers = [registry];
  const accepted = new Counter({
    name: 'outcome_tracker_signals_accepted_total',
    help: 'Signals stored as accepted by the track-signal intake (from the queue or POST /v1/signals).',
    registers,
  });
  const rejected = signalRejections(registry, 'queue');
  const operations = new Counter({
    name: 'outcome_tracker_operations_total',
    help: 'Operations decided: applied or rejected by the shard, or rejected by the intake before it (bad shape, signal unknown, closed).',
    labelNames: ['op', 'result'],
    registers,
  });
  const jobs = new Counter({
    name: 'outcome_tracker_shard_jobs_total',
    help: 'Shard jobs committed, by kind (ticks, register, register-batch, op, sweep, forget, or poison: recorded and skipped).',
    labelNames: ['shard', 'kind'],
    registers,
  });
  const registered = new Counter({
    name: 'outcome_tracker_signals_registered_total',
    help: 'Signals registered by the shard (from register and register-batch jobs; repeats of a known id not counted).',
    labelNames: ['shard'],
    registers,
  });
  const applied = new Counter({
    name: 'outcome_tracker_ticks_applied_total',
    help: 'Ticks applied to the shard (committed with their job).',
    labelNames: ['shard'],
    registers,
  });
  const late = new Counter({
    name: 'outcome_tracker_ticks_late_total',
    help: 'Ticks older than their symbol’s latest applied tick: counted, not applied.',
    labelNames: ['shard'],
    registers,
  });
  const skipped = new Counter({
    name: 'outcome_tracker_ticks_skipped_total',
    help: 'Ticks skipped: malformed (a producer bug) or future (beyond MAX_CLOCK_SKEW_MS).',
    labelNames: ['shard', 'reason'],
    registers,
  });
  const closed = new Counter({
    name: 'outcome_tracker_signals_closed_total',
    help: 'Signals closed by the shard (their outcomes written to the outbox for the flusher).',
    labelNames: ['shard'],
    registers,
  });
  const tickLatency = new Histogram({
    name: 'outcome_tracker_tick_to_checkpoint_seconds',
    help: 'Per tick job: from the job being queued to its checkpoint committing in Redis.',
    labelNames: ['shard'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const deliveries = new Counter({
    name: 'outcome_tracker_webhook_deliveries_total',
    help: 'Webhook delivery attempts: delivered (2xx), retrying (failed, will retry), failed (for good), skipped (webhook deleted).',
    labelNames: ['result'],
    registers,
  });
  for (const n of shards) {
    const shard = String(n);
    applied.inc({ shard }, 0);
    late.inc({ shard }, 0);
    closed.inc({ shard }, 0);
  }
  accepted.inc(0);
  for (const result of ['delivered', 'retrying', 'failed', 'skipped']) deliveries.inc({ result }, 0);

  return {
    intake: {
      signal(result, code) {
        if (result === 'accepted') accepted.inc();
        else rejected(code ?? 'UNKNOWN');
      },
      operationRejected(op) {
        operations.inc({ op: opLabel(op), result: 'rejected' });
      },
    },
    onShardCommitted({ shard: n, data, delta, queuedAt, poison }) {
      const shard = String(n);
      jobs.inc({ shard, kind: poison !== null ? 'poison' : data.kind });
      if (poison === null && (data.kind === 'register' || data.kind === 'register-batch')) {
        const fresh = (data.kind === 'register' ? 1 : data.signals.length) - delta.duplicates;
        if (fresh > 0) registered.inc({ shard }, fresh);
      }
      if (data.kind === 'ticks' && data.ticks.length > 0) {
        const skippedTicks = delta.poisonTicks + delta.futureTicks;
        applied.inc({ shard }, data.ticks.length - skippedTicks - delta.lateTicks);
        if (delta.lateTicks > 0) late.inc({ shard }, delta.lateTicks);
        if (delta.poisonTicks > 0) skipped.inc({ shard, reason: 'malformed' }, delta.poisonTicks);
        if (delta.futureTicks > 0) skipped.inc({ shard, reason: 'future' }, delta.futureTicks);
        tickLatency.observe({ shard }, Math.max(0, now() - queuedAt) / 1000);
      }
      // The outbox of one job: a few entries (closed signals, an operation's result, events).
      let closedHere = 0;
      for (const entry of delta.outbox.values()) {
        if (entry.kind === 'closed') closedHere++;
        else if (entry.kind === 'op')
          operations.inc({ op: opLabel(entry.op.op), result: entry.applied ? 'applied' : 'rejected' });
      }
      if (closedHere > 0) closed.inc({ shard }, closedHere);
    },
    watchWebhooks(worker) {
      worker.on('completed', (_job, result: unknown) => {
        const skippedDelivery =
          typeof result === 'object' && result !== null && 'skipped' in (result as Record<string, unknown>);
        deliveries.inc({ result: skippedDelivery ? 'skipped' : 'delivered' });
      });
      worker.on('failed', (job, err) => {
        const final =
          job === undefined ||
          err instanceof UnrecoverableError ||
          err.name === 'UnrecoverableError' ||
          job.attemptsMade >= (job.opts.attempts ?? 1);
        deliveries.inc({ result: final ? 'failed' : 'retrying' });
      });
    },
  };
}
