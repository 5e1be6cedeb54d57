/**
 * The one conversion between epoch milliseconds (every time in the application) and
 * `timestamptz` (every time in the database), as SQL fragments around a column or parameter.
 * Both are exact: integer arithmetic on an interval, where `to_timestamp(ms / 1000.0)` would go
 * through a double, and `extract(epoch …)`, exact numeric on PostgreSQL 14+. A time stored with
 * {@link fromMs} reads back with {@link toMs} as the same integer.
 */

/** Epoch milliseconds (an integer, or a bigint parameter) → timestamptz. */
export const fromMs = (expr: string): string =>
  `(timestamptz 'epoch' + (${expr})::bigint * interval '1 millisecond')`;

/** timestamptz → epoch milliseconds as a JS number. */
export const toMs = (expr: string): string => `round(extract(epoch FROM ${expr}) * 1000)::float8`;
