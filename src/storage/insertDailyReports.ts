import type { Queryable } from './Queryable.ts';

/**
 * Computes and writes `tenant`'s regulatory_reports rows for the UTC days `from`…`to`
 * (inclusive, ISO dates) in one statement; a day already written is left as it is (a rerun, or
 * a second scheduler, writes nothing twice). Returns the days this call wrote.
 *
 * Each day counts what the system recorded during it: submissions by `signals.received_at`,
 * rejection codes from the `rejected` audit rows written with them, outcomes by
 * `signal_outcomes.recorded_at`, audit rows by `recorded_at`; the audit head is the last row in
 * chain order recorded before the day's end.
 */
export async function insertDailyReports(
  db: Queryable,
  tenant: string,
  from: string,
  to: string,
): Promise<string[]> {
  const res = await db.query<{ day: string }>(
    `WITH bounds AS (
       SELECT ($2::date)::timestamp AT TIME ZONE 'UTC' AS lo, ($3::date + 1)::timestamp AT TIME ZONE 'UTC' AS hi
     ),
     days AS (
       SELECT d::date AS day FROM generate_series($2::date, $3::date, interval '1 day') AS d
     ),
     received AS (
       SELECT (s.received_at AT TIME ZONE 'UTC')::date AS day, count(*) AS received,
         count(*) FILTER (WHERE s.status = 'accepted') AS accepted,
         count(*) FILTER (WHERE s.status = 'rejected') AS rejected
       FROM signals s, bounds b
       WHERE s.tenant = $1 AND s.received_at >= b.lo AND s.received_at < b.hi
       GROUP BY 1
     ),
     codes AS (
       SELECT day, jsonb_object_agg(code, n ORDER BY code) AS by_code
       FROM (
         SELECT (a.recorded_at AT TIME ZONE 'UTC')::date AS day, c.code, count(*) AS n
         FROM audit_logs a CROSS JOIN bounds b
         CROSS JOIN LATERAL (
           SELECT DISTINCT jsonb_array_elements_text(
             CASE WHEN jsonb_typeof(a.details->'codes') = 'array' THEN a.details->'codes' ELSE '[]' END) AS code
         ) c
         WHERE a.tenant = $1 AND a.event = 'rejected' AND a.recorded_at >= b.lo AND a.recorded_at < b.hi
         GROUP BY 1, 2
       ) x
       GROUP BY day
     ),
     closed AS (
       SELECT day, sum(n)::bigint AS closed, jsonb_object_agg(outcome, n ORDER BY outcome) AS by_outcome
       FROM (
         SELECT (o.recorded_at AT TIME ZONE 'UTC')::date AS day, o.outcome, count(*) AS n
         FROM signal_outcomes o, bounds b
         WHERE o.tenant = $1 AND o.recorded_at >= b.lo AND o.recorded_at < b.hi
         GROUP BY 1, 2
       ) x
       GROUP BY day
     ),
     audits AS (
       SELECT (a.recorded_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
       FROM audit_logs a, bounds b
       WHERE a.tenant = $1 AND a.recorded_at >= b.lo AND a.recorded_at < b.hi
       GROUP BY 1
     )
     INSERT INTO regulatory_reports AS r (tenant, day, signals_received, signals_accepted, signals_rejected,
       rejected_by_code, closed, closed_by_outcome, audit_rows, audit_head_seq, audit_head_hash)
     SELECT $1, d.day, coalesce(rc.received, 0), coalesce(rc.accepted, 0), coalesce(rc.rejected, 0),
       coalesce(c.by_code, '{}'), coalesce(cl.closed, 0), coalesce(cl.by_outcome, '{}'), coalesce(au.n, 0),
       head.chain_seq, head.row_hash
     FROM days d
     LEFT JOIN received rc ON rc.day = d.day
     LEFT JOIN codes c ON c.day = d.day
     LEFT JOIN closed cl ON cl.day = d.day
     LEFT JOIN audits au ON au.day = d.day
     LEFT JOIN LATERAL (
       SELECT a.chain_seq, a.row_hash FROM audit_logs a
       WHERE a.tenant = $1 AND a.chain_seq IS NOT NULL
         AND a.recorded_at < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
       ORDER BY a.chain_seq DESC LIMIT 1
     ) head ON true
     ORDER BY d.day
     ON CONFLICT (tenant, day) DO NOTHING
     RETURNING to_char(r.day, 'YYYY-MM-DD') AS day`,
    [tenant, from, to],
  );
  return res.rows.map((r) => r.day);
}
