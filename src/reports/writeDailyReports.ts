import type { Logger } from 'pino';
import { insertDailyReports } from '../storage/insertDailyReports.ts';
import { listReportBacklog } from '../storage/listReportBacklog.ts';
import type { Queryable } from '../storage/Queryable.ts';
import { daysToReport, lastCompleteDay } from './reportDays.ts';

export interface WriteDailyReportsOptions {
  db: Queryable;
  /** Wall clock, epoch ms: which days are over. */
  now: () => number;
  log?: Pick<Logger, 'info' | 'debug'>;
}

/**
 * Writes every missing daily regulatory report up to the last complete UTC day, for every
 * tenant: catches up days missed while no scheduler ran (up to a year per tenant per call).
 * Safe to run from several schedulers at once: each (tenant, day) is written once. Returns the
 * number of rows written.
 */
export async function writeDailyReports(options: WriteDailyReportsOptions): Promise<number> {
  const { db, now, log } = options;
  const lastComplete = lastCompleteDay(now());
  let written = 0;
  for (const backlog of await listReportBacklog(db)) {
    const range = daysToReport(backlog.firstDay, backlog.lastReported, lastComplete);
    if (range === null) continue;
    const days = await insertDailyReports(db, backlog.tenant, range.from, range.to);
    written += days.length;
    if (days.length > 0)
      log?.info(
        { tenant: backlog.tenant, ...range, written: days.length },
        'daily regulatory reports written',
      );
  }
  log?.debug({ lastComplete, written }, 'daily regulatory reports up to date');
  return written;
}
