import cron from 'node-cron';
import type { Logger } from 'pino';

export interface ScheduleRecurringOptions {
  /** The schedule's name in logs and in node-cron. */
  name: string;
  /** node-cron expression, in UTC. */
  cron: string;
  /** One run; its failure is logged and the next tick tries again. */
  run(log: Logger): Promise<unknown>;
  /** What the warning says when a run fails. */
  failure: string;
  log: Logger;
}

/**
 * A catch-up schedule of the scheduler process: a run at start, then one on every cron tick;
 * never two at once (a tick that finds a run in progress waits for it instead). A failed run
 * (PostgreSQL down) is logged and the next tick tries again, so each run must do whatever is
 * still missing rather than a fixed slice. Returns a function that stops the schedule and waits
 * for a run in progress.
 */
export function scheduleRecurring(options: ScheduleRecurringOptions): () => Promise<void> {
  if (!cron.validate(options.cron))
    throw new RangeError(`invalid cron expression "${options.cron}" for ${options.name}`);
  const log = options.log.child({ schedule: options.name });
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  const run = (): Promise<void> => {
    if (busy) return running;
    busy = true;
    running = options
      .run(log)
      .then(
        () => {},
        (err: unknown) => log.warn({ err }, options.failure),
      )
      .finally(() => {
        busy = false;
      });
    return running;
  };
  void run();
  const task = cron.schedule(options.cron, () => run(), {
    name: options.name,
    noOverlap: true,
    timezone: 'Etc/UTC',
  });
  return async () => {
    await task.stop();
    await task.destroy();
    await running;
  };
}
