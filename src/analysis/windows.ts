/**
 * Analysis windows. Windows are aligned to UTC days so that "the 7d window ending 2025-11-24"
 * names one thing: re-analysing it (every cron tick during that day, a second scheduler, an
 * on-demand run) updates the same performance_metrics row and cannot repeat an insight, and
 * each finished day leaves one row per window and group behind as history.
 *
 * Pure: no clock, no I/O. Times are epoch milliseconds.
 */

/** One UTC day in milliseconds. */
export const DAY_MS = 86_400_000;

/** The windows, in the order the analyzer computes them. docs/METRICS.md "Periods and grouping". */
export const WINDOW_NAMES = ['1d', '7d', '30d', 'all', 'rolling'] as const;

/** One of {@link WINDOW_NAMES}. */
export type WindowName = (typeof WINDOW_NAMES)[number];

/** Days covered by the calendar windows. */
export const WINDOW_DAYS: Readonly<Record<'1d' | '7d' | '30d', number>> = { '1d': 1, '7d': 7, '30d': 30 };

/** Whether `name` is a window name. */
export function isWindowName(name: string): name is WindowName {
  return (WINDOW_NAMES as readonly string[]).includes(name);
}

/** Start of the UTC day containing `ms`. */
export function floorDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** The first UTC midnight at or after `ms` (`ms` itself when it is a midnight). */
export function ceilDay(ms: number): number {
  return Math.ceil(ms / DAY_MS) * DAY_MS;
}

/**
 * The window ends an analysis at time `at` computes, ascending.
 *
 * The current day's windows end at the next midnight (`ceilDay(at)`) and hold the outcomes closed
 * so far; an analysis exactly at midnight computes the day that just ended. Outcomes reach
 * PostgreSQL a little after they close (the flusher), so a run within `settleMs` after a midnight
 * also recomputes the windows ending at that midnight: the finished day's rows then include
 * outcomes that were still in flight at midnight.
 */
export function windowEnds(at: number, settleMs: number): number[] {
  const end = ceilDay(at);
  const midnight = floorDay(at);
  if (midnight !== end && at - midnight < settleMs) return [midnight, end];
  return [end];
}

/**
 * Start of a calendar window (`1d`, `7d`, `30d`) that ends at `end` (a midnight): `end` minus its
 * days. `all` and `rolling` have no fixed start; theirs depends on the group's outcomes.
 */
export function calendarWindowStart(name: '1d' | '7d' | '30d', end: number): number {
  return end - WINDOW_DAYS[name] * DAY_MS;
}

/** Whether `name` is one of the calendar windows (fixed number of days). */
export function isCalendarWindow(name: WindowName): name is '1d' | '7d' | '30d' {
  return name === '1d' || name === '7d' || name === '30d';
}
