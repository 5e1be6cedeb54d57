import cron from 'node-cron';
import type { Logger } from 'pino';
import type { Queryable } from '../storage/Queryable.ts';
import { writeDailyReports } from './writeDailyReports.ts';

export interface ScheduleReportsOptions {
  db: Queryable;
  /** node-cron expression (REPORT_CRON), in UTC. */
  cron: string;
  log: Logger;
  now: () => number;
}

/**
 * The daily regulatory reports' schedule, in the scheduler process: a catch-up run at start,
 * then one on every cron tick (each writes only the days still missing, so ticks more frequent
 * than daily cost one small query). A failed run (PostgreSQL down) is logged and the next tick
 * tries again. Returns a function that stops the schedule and waits for a run in progress.
 */
export function scheduleReports(options: ScheduleReportsOptions): () => Promise<void> {
  if (!cron.validate(options.cron)) throw new RangeError(`invalid report cron expression "${options.cron}"`);
  const log = options.log.child({ schedule: 'regulatory-reports' });
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  const run = (): Promise<void> => {
    if (busy) return running;
    busy = true;
    running = writeDailyReports({ db: options.db, now: options.now, log })
      .then(
        () => {},
        (err: unknown) =>
          log.warn({ err }, 'daily regulatory reports could not be written; next run retries'),
      )
      .finally(() => {
        busy = false;
      });
    return running;
  };
  void run();
  const task = cron.schedule(options.cron, () => run(), {
    name: 'regulatory-reports',
    noOverlap: true,
    timezone: 'Etc/UTC',
  });
  return async () => {
    await task.stop();
    await task.destroy();
    await running;
  };
}
