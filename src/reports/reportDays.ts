/**
 * Which UTC days a daily regulatory report may be written for (pure: the clock is passed in).
 * Days are ISO dates ("2026-12-01").
 */

const DAY_MS = 86_400_000;

/**
 * How long after midnight UTC a day counts as over. Rows carry their transaction's start time
 * (`now()`), so a transaction that began just before midnight commits a little after it; the
 * report waits this long for such stragglers.
 * @defaultValue 10 minutes
 */
export const REPORT_GRACE_MS = 10 * 60_000;

/** Most days one tenant's backlog advances per run, so a first run on years of history stays bounded. */
export const MAX_REPORT_DAYS_PER_RUN = 366;

/** The ISO date of epoch ms `ms`, in UTC. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** `day` plus `n` days. */
export function addDays(day: string, n: number): string {
  return dayOf(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS);
}

/** The last day that is over (plus {@link REPORT_GRACE_MS}) at `nowMs`. */
export function lastCompleteDay(nowMs: number, graceMs = REPORT_GRACE_MS): string {
  return addDays(dayOf(nowMs - graceMs), -1);
}

/**
 * The days still to report for one tenant: from the day after its last report (or its first
 * day), through the last complete day, at most `maxDays`; null when there are none.
 */
export function daysToReport(
  firstDay: string,
  lastReported: string | null,
  lastComplete: string,
  maxDays = MAX_REPORT_DAYS_PER_RUN,
): { from: string; to: string } | null {
  const from = lastReported === null || lastReported < firstDay ? firstDay : addDays(lastReported, 1);
  if (from > lastComplete) return null;
  const capped = addDays(from, maxDays - 1);
  return { from, to: capped < lastComplete ? capped : lastComplete };
}
