/**
 * The times a query may name: years 0001 to 9999 (ISO 8601's four-digit years). Outside them a
 * JavaScript time may still be valid where PostgreSQL's timestamp or bigint is not, and a query
 * would fail in the database (a 500) instead of being refused as the bad input it is (a 400).
 */
export const MIN_QUERY_MS = -62_135_596_800_000; // 0001-01-01T00:00:00.000Z
export const MAX_QUERY_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

/** Whether `ms` is an integer time within {@link MIN_QUERY_MS}..{@link MAX_QUERY_MS}. */
export function isQueryTime(ms: number): boolean {
  return Number.isSafeInteger(ms) && ms >= MIN_QUERY_MS && ms <= MAX_QUERY_MS;
}
