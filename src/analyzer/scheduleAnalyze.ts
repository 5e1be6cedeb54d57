/**
 * The analyzer's schedule: a node-cron task in the scheduler process that enqueues one `analyze`
 * job per (window, group kind) and schedule slot. Job ids are derived from the slot (the time the
 * cron expression matched, not the moment the callback ran), so any number of schedulers
 * enqueue each job once, and enqueueing a slot again adds nothing.
 *
 * No slot's work is lost to Redis or to a scheduler that was not running. A slot whose jobs Redis
 * does not take (down, out of memory, loading) waits, with the slots after it, and is enqueued
 * when Redis takes it. A scheduler that starts enqueues the slots it missed since the last slot
 * enqueued (kept in Redis), within {@link ANALYZE_CATCH_UP_MS}. Of waiting slots that compute the
 * same windows (an analysis depends on its slot only through `windowEnds`, and reads outcomes
 * when it runs), only the latest is enqueued: the others would write the same rows.
 */
import type { Queue } from 'bullmq';
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import { ANALYZE_JOB_NAME, analyzeJobId, type AnalyzeJobData } from './analyzeJob.ts';
import { GROUP_KINDS, type GroupKind } from '../analysis/groups.ts';
import { WINDOW_NAMES, windowEnds, type WindowName } from '../analysis/windows.ts';
import { analyzeLastSlotKey } from '../names.ts';
import type { RedisClient } from '../RedisClient.ts';
import { ANALYZER_DEFAULTS } from './createAnalyzer.ts';

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

/** How far back a scheduler that starts looks for slots it missed. */
export const ANALYZE_CATCH_UP_MS = 86_400_000;

/** Sets KEYS[1] to ARGV[1] unless it holds a later slot already (schedulers race). */
const SET_LATER_SLOT = `local v = tonumber(redis.call('GET', KEYS[1]))
if v == nil or v < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`;

export interface ScheduleAnalyzeOptions {
  /** The analyze queue (QUEUE_NAMES.analyze), created and closed by the caller. */
  queue: Queue<AnalyzeJobData>;
  /** Where the last slot enqueued is kept (analyzeLastSlotKey), under QUEUE_PREFIX. */
  redis: RedisClient;
  prefix: string;
  /** node-cron expression (ANALYZE_CRON). */
  cron: string;
  log: Logger;
  /** Wall clock, used as the slot if node-cron gives none, and for the catch-up at start. */
  now: () => number;
  windows?: readonly WindowName[];
  groupKinds?: readonly GroupKind[];
  /** Told of each attempt to enqueue a slot: its jobs enqueued (`ok`) or not (metrics). */
  onRun?: (ok: boolean) => void;
  /** The first wait after a slot could not be enqueued; it doubles, up to 30 s. @defaultValue 1000 */
  retryMs?: number;
}

/**
 * The slots of `task` after `afterMs` and up to `nowMs`, within the last ANALYZE_CATCH_UP_MS,
 * oldest first. Minute by minute unless the expression has seconds.
 */
export function missedSlots(task: ScheduledTask, afterMs: number, nowMs: number): number[] {
  const step = cron.parse(task.getPattern()).second.every((s) => s === 0) ? 60_000 : 1000;
  const from = Math.max(afterMs, nowMs - ANALYZE_CATCH_UP_MS);
  const slots: number[] = [];
  for (let t = (Math.floor(from / step) + 1) * step; t <= nowMs; t += step) {
    if (task.match(new Date(t))) slots.push(t);
  }
  return slots;
}

/** Whether analyses at slots `a` and `b` compute the same windows (the analyzer's default settle). */
function sameWindows(a: number, b: number): boolean {
  return (
    windowEnds(a, ANALYZER_DEFAULTS.settleMs).join() === windowEnds(b, ANALYZER_DEFAULTS.settleMs).join()
  );
}

/** Starts the schedule; returns a function that stops it. Throws on an invalid cron expression. */
export function scheduleAnalyze(options: ScheduleAnalyzeOptions): () => Promise<void> {
  if (!cron.validate(options.cron)) throw new RangeError(`invalid analyze cron expression "${options.cron}"`);
  const log = options.log.child({ schedule: 'analyze' });
  const key = analyzeLastSlotKey(options.prefix);
  const retryMs = options.retryMs ?? 1000;
  /** Slots (epoch ms, whole seconds) still to enqueue, oldest first. */
  const pending: number[] = [];
  let caughtUp = false;
  let stopped = false;
  let draining = false;
  let wake: (() => void) | null = null;

  const task = cron.schedule(
    options.cron,
    (context) => {
      const slot = Math.floor((context?.date ?? new Date(options.now())).getTime() / 1000) * 1000;
      if (!pending.includes(slot)) pending.push(slot);
      drain();
    },
    // In UTC, as the other schedules: schedulers in different time zones then share slots.
    { name: 'analyze', timezone: 'Etc/UTC' },
  );

  function drain(): void {
    if (draining || stopped) return;
    draining = true;
    void run().finally(() => {
      draining = false;
      if (pending.length > 0 || !caughtUp) drain();
    });
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (!stopped && (!caughtUp || pending.length > 0)) {
      const slot = pending[0];
      // Slots are in order, and slots that compute the same windows are next to each other.
      if (slot !== undefined && pending.length > 1 && sameWindows(slot, pending[1]!)) {
        pending.shift();
        continue;
      }
      try {
        if (!caughtUp) {
          const last = await options.redis.get(key);
          if (last !== null) {
            const missed = missedSlots(task, Number(last), options.now()).filter((s) => !pending.includes(s));
            if (missed.length > 0)
              log.info({ slots: missed.length }, 'enqueueing analyze slots missed while stopped');
            pending.unshift(...missed);
            pending.sort((a, b) => a - b);
          }
          caughtUp = true;
          continue;
        }
        const ids = await enqueueAnalyze({
          queue: options.queue,
          slot: new Date(slot!),
          ...(options.windows ? { windows: options.windows } : {}),
          ...(options.groupKinds ? { groupKinds: options.groupKinds } : {}),
        });
        await options.redis.eval(SET_LATER_SLOT, 1, key, String(slot));
        pending.shift();
        if (failures > 0)
          log.info({ slot: new Date(slot!).toISOString(), failures }, 'analyze jobs enqueued after waiting');
        else log.debug({ slot: new Date(slot!).toISOString(), jobs: ids.length }, 'analyze jobs enqueued');
        failures = 0;
        options.onRun?.(true);
      } catch (err) {
        if (stopped) break;
        failures++;
        if (caughtUp) options.onRun?.(false);
        if (failures === 1 || failures % 20 === 0)
          log.warn(
            {
              err,
              slot: slot === undefined ? undefined : new Date(slot).toISOString(),
              pending: pending.length,
              failures,
            },
            'analyze jobs could not be enqueued; retrying',
          );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(30_000, retryMs * 2 ** (failures - 1)));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
    }
  }

  drain();
  return async () => {
    stopped = true;
    (wake as (() => void) | null)?.();
    await task.stop();
    await task.destroy();
  };
}
