import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { FlusherMetrics } from '../live/createFlusher.ts';

/** Buckets of close-to-commit latency, seconds: 10 ms to 15 minutes (PostgreSQL outages). */
export const CLOSE_TO_COMMIT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

/**
 * The flusher process's metrics (docs/OPERATIONS.md "Metrics"), counted per committed batch and
 * per pass of its loop.
 */
export function createFlusherMetrics(registry: Registry, now: () => number): FlusherMetrics {
  const registers = [registry];
  const flushed = new Counter({
    name: 'outcome_tracker_outcomes_flushed_total',
    help: 'Outcomes written to PostgreSQL (each once: a batch written again counts nothing).',
    registers,
  });
  const removed = new Counter({
    name: 'outcome_tracker_outbox_entries_removed_total',
    help: 'Outbox entries removed from Redis after PostgreSQL committed them (outcomes, operation results, gaps, events).',
    registers,
  });
  const latency = new Histogram({
    name: 'outcome_tracker_close_to_commit_seconds',
    help: 'Per outcome: from the shard checkpoint that closed the signal to the PostgreSQL commit that stored it.',
    buckets: CLOSE_TO_COMMIT_BUCKETS,
    registers,
  });
  const passes = new Counter({
    name: 'outcome_tracker_flush_passes_total',
    help: 'Passes of the flusher over every outbox: ok, or failed (PostgreSQL or Redis unreachable; entries stay).',
    labelNames: ['result'],
    registers,
  });
  const lastSuccess = new Gauge({
    name: 'outcome_tracker_flush_last_success_timestamp_seconds',
    help: 'When a pass of the flusher last succeeded (Unix time); 0 before the first.',
    registers,
  });
  const refused = new Gauge({
    name: 'outcome_tracker_outbox_refused_entries',
    help: 'Outbox entries PostgreSQL refused for good (bad data), left in the outbox until fixed.',
    registers,
  });
  const orphans = new Counter({
    name: 'outcome_tracker_outbox_orphans_dropped_total',
    help: 'Outbox entries of signals PostgreSQL does not know, dropped after FLUSH_ORPHAN_GRACE_MS with an orphan_dropped audit row.',
    registers,
  });
  flushed.inc(0);
  removed.inc(0);
  orphans.inc(0);
  passes.inc({ result: 'ok' }, 0);
  passes.inc({ result: 'failed' }, 0);
  lastSuccess.set(0);
  refused.set(0);
  return {
    batchCommitted(batch) {
      if (batch.outcomes > 0) flushed.inc(batch.outcomes);
      if (batch.removed > 0) removed.inc(batch.removed);
      for (const ms of batch.closeToCommitMs) latency.observe(Math.max(0, ms) / 1000);
    },
    orphansDropped(entries) {
      orphans.inc(entries);
    },
    pass(ok, refusedEntries) {
      passes.inc({ result: ok ? 'ok' : 'failed' });
      if (ok) lastSuccess.set(now() / 1000);
      refused.set(refusedEntries);
    },
  };
}
