/**
 * The analyzer's schedule: a node-cron task in the scheduler process that enqueues one `analyze`
 * job per (window, group kind) and schedule slot. Job ids are derived from the slot (the time the
 * cron expression matched, not the moment the callback ran), so any number of schedulers
 * enqueue each job once.
 */
import type { Queue } from 'bullmq';
import cron from 'node-cron';
import type { Logger } from 'pino';
import { ANALYZE_JOB_NAME, analyzeJobId, type AnalyzeJobData } from './analyzeJob.ts';
import { GROUP_KINDS, type GroupKind } from '../analysis/groups.ts';
import { WINDOW_NAMES, type WindowName } from '../analysis/windows.ts';

/**
 * Options of the jobs: completed ones are kept a day, so a scheduler whose clock or cron tick
 * lags still finds the id taken; transient failures (PostgreSQL restarting) are retried.
 */
export const ANALYZE_JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 10_000 },
  removeOnComplete: { age: 24 * 3600, count: 5000 },
  removeOnFail: { age: 7 * 24 * 3600 },
} as const;

export interface EnqueueAnalyzeOptions {
  queue: Queue<AnalyzeJobData>;
  /** The schedule slot; also the analysis time of the jobs. */
  slot: Date;
  /** @defaultValue every window */
  windows?: readonly WindowName[];
  /** @defaultValue every group kind */
  groupKinds?: readonly GroupKind[];
}

/** Adds the slot's jobs; returns their ids (existing ones included: BullMQ ignores those adds). */
export async function enqueueAnalyze(options: EnqueueAnalyzeOptions): Promise<string[]> {
  const slot = new Date(Math.floor(options.slot.getTime() / 1000) * 1000);
  const jobs = [];
  for (const window of options.windows ?? WINDOW_NAMES) {
    for (const groupKind of options.groupKinds ?? GROUP_KINDS) {
      jobs.push({
        name: ANALYZE_JOB_NAME,
        data: { window, groupKind, at: slot.toISOString() } satisfies AnalyzeJobData,
        opts: { ...ANALYZE_JOB_OPTIONS, jobId: analyzeJobId(window, groupKind, slot) },
      });
    }
  }
  await options.queue.addBulk(jobs);
  return jobs.map((j) => j.opts.jobId);
}

export interface ScheduleAnalyzeOptions {
  /** The analyze queue (QUEUE_NAMES.analyze), created and closed by the caller. */
  queue: Queue<AnalyzeJobData>;
  /** node-cron expression (ANALYZE_CRON). */
  cron: string;
  log: Logger;
  /** Wall clock, used as the slot if node-cron gives none. */
  now: () => number;
  windows?: readonly WindowName[];
  groupKinds?: readonly GroupKind[];
  /** Told of each run: its jobs enqueued (`ok`) or not (metrics). */
  onRun?: (ok: boolean) => void;
}

/** Starts the schedule; returns a function that stops it. Throws on an invalid cron expression. */
export function scheduleAnalyze(options: ScheduleAnalyzeOptions): () => Promise<void> {
  if (!cron.validate(options.cron)) throw new RangeError(`invalid analyze cron expression "${options.cron}"`);
  const log = options.log.child({ schedule: 'analyze' });
  const task = cron.schedule(
    options.cron,
    async (context) => {
      const slot = context?.date ?? new Date(options.now());
      try {
        const ids = await enqueueAnalyze({
          queue: options.queue,
          slot,
          ...(options.windows ? { windows: options.windows } : {}),
          ...(options.groupKinds ? { groupKinds: options.groupKinds } : {}),
        });
        log.debug({ slot: slot.toISOString(), jobs: ids.length }, 'analyze jobs enqueued');
        options.onRun?.(true);
      } catch (err) {
        log.warn({ err, slot: slot.toISOString() }, 'analyze jobs could not be enqueued');
        options.onRun?.(false);
      }
    },
    { name: 'analyze', noOverlap: true },
  );
  return async () => {
    await task.stop();
    await task.destroy();
  };
}
