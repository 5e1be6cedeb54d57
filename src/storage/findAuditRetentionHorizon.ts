import type { Queryable } from './Queryable.ts';

/**
 * The time before which TimescaleDB retention may have dropped `audit_logs` rows, epoch
 * microseconds, or null when nothing can have been dropped by retention (plain PostgreSQL:
 * migrations/1764000000001_timescaledb.sql drops nothing there).
 *
 * drop_chunks removes whole chunks, every one older than those it leaves, so each dropped row's
 * `at` is before the oldest surviving chunk's start; a retention policy drops only rows older
 * than now − drop_after. The horizon is the earlier of the two that exist, so a verifier that
 * accepts a missing row only when it is older than the horizon never takes a deletion for
 * retention.
 */
export async function findAuditRetentionHorizon(db: Queryable): Promise<number | null> {
  const ext = await db.query(`SELECT FROM pg_extension WHERE extname = 'timescaledb'`);
  if (ext.rows.length === 0) return null;
  // A separate statement: timescaledb_information exists only with the extension.
  const res = await db.query<{
    hypertable: boolean;
    chunk_start_us: string | null;
    policy_us: string | null;
  }>(
    `SELECT
       EXISTS (SELECT FROM timescaledb_information.hypertables
               WHERE hypertable_schema = current_schema() AND hypertable_name = 'audit_logs') AS hypertable,
       (SELECT (extract(epoch FROM min(range_start)) * 1000000)::bigint::text
        FROM timescaledb_information.chunks
        WHERE hypertable_schema = current_schema() AND hypertable_name = 'audit_logs') AS chunk_start_us,
       (SELECT (extract(epoch FROM now() - (config->>'drop_after')::interval) * 1000000)::bigint::text
        FROM timescaledb_information.jobs
        WHERE proc_name = 'policy_retention' AND hypertable_schema = current_schema()
          AND hypertable_name = 'audit_logs'
        LIMIT 1) AS policy_us`,
  );
  const row = res.rows[0];
  if (row === undefined || !row.hypertable) return null;
  const bounds = [row.chunk_start_us, row.policy_us].filter((v): v is string => v !== null).map(Number);
  return bounds.length === 0 ? null : Math.min(...bounds);
}
