/**
 * The analyze worker: a BullMQ Worker on QUEUE_NAMES.analyze that runs the analyzer for each
 * job. One job at a time: an analysis is CPU-bound, and one over a million outcomes peaks at
 * about 1 GB of memory (docs/METRICS.md "Running it").
 */
import { UnrecoverableError, Worker, type ConnectionOptions, type KeepJobs } from 'bullmq';
import type pg from 'pg';
import type { Logger } from 'pino';
import { createTransientRetry } from '../storage/retryTransient.ts';
import { QUEUE_NAMES, queueNameOn } from '../names.ts';
import { isCluster } from '../RedisClient.ts';
import { ANALYZE_JOB_NAME, analyzeJobSchema, type AnalyzeJobData } from './analyzeJob.ts';
import { createAnalyzer, type AnalyzeSummary, type CreateAnalyzerOptions } from './createAnalyzer.ts';

export interface AnalyzeWorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  pool: pg.Pool;
  log: Logger;
  /** The wall clock (injected: only process wiring reads Date.now). */
  now: () => number;
  /**
   * How long the job lock lasts between renewals. The analysis yields to the event loop every
   * ~50 ms so renewals happen, but a long GC pause on a big analysis must not let another worker
   * take the job over. @defaultValue 300000
   */
  lockDurationMs?: number;
  /** Finished jobs kept for Bull Board (KEEP_* settings). @defaultValue BullMQ's: all */
  retention?: { removeOnComplete: KeepJobs; removeOnFail: KeepJobs };
  /**
   * How long one analysis waits out a PostgreSQL outage, retrying (TRANSIENT_RETRY_MS), before
   * its job fails. @defaultValue 900000
   */
  transientRetryMs?: number;
  /** Analyzer settings beyond the defaults. */
  analyzer?: Omit<CreateAnalyzerOptions, 'pool' | 'log' | 'now'>;
}

/** Starts the worker; close it with `await worker.close()`. */
export function createAnalyzeWorker(options: AnalyzeWorkerOptions): Worker<AnalyzeJobData, AnalyzeSummary> {
  const log = options.log.child({ queue: QUEUE_NAMES.analyze });
  const analyzer = createAnalyzer({
    ...options.analyzer,
    pool: options.pool,
    log,
    now: options.now,
  });
  // Transient is not bad (DESIGN.md decision 13): an analysis whose database is briefly down
  // waits for it and runs again (it upserts, so a repeat writes nothing twice), instead of
  // spending its job's few attempts in seconds and failing for an outage.
  const retry = createTransientRetry({
    log,
    dependency: 'PostgreSQL',
    budgetMs: options.transientRetryMs ?? 900_000,
    now: options.now,
  });
  const worker = new Worker<AnalyzeJobData, AnalyzeSummary>(
    queueNameOn(QUEUE_NAMES.analyze, isCluster(options.connection)),
    async (job) => {
      if (job.name !== ANALYZE_JOB_NAME) {
        throw new UnrecoverableError(`no handler for job name "${job.name}" on ${QUEUE_NAMES.analyze}`);
      }
      const parsed = analyzeJobSchema.safeParse(job.data);
      if (!parsed.success) {
        throw new UnrecoverableError(
          `invalid analyze job: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
        );
      }
      const { window, groupKind, at, tenant } = parsed.data;
      return retry.run(() =>
        analyzer.analyze({
          ...(window ? { window } : {}),
          ...(groupKind ? { groupKind } : {}),
          ...(at ? { at: Date.parse(at) } : {}),
          ...(tenant ? { tenant } : {}),
        }),
      );
    },
    {
      ...options.retention,
      connection: options.connection,
      prefix: options.prefix,
      concurrency: 1,
      lockDuration: options.lockDurationMs ?? 300_000,
    },
  );
  worker.on('error', (err) => log.error({ err }, 'analyze worker error'));
  worker.on('failed', (job, err) => log.error({ err, jobId: job?.id }, 'analyze job failed'));
  return worker;
}
