import type pg from 'pg';
import { trackerError } from '../errors.ts';
import type { NormalizedSignal } from '../../machines/signalContext.ts';
import { QUEUE_NAMES, rejectionLedgerKey } from '../names.ts';
import { fromMs } from './epochMs.ts';
import { inTransaction } from './inTransaction.ts';
import { insertRejected } from './insertRejected.ts';
import { lockTenantAuditChains } from './lockAuditChains.ts';
import type { Queryable } from './Queryable.ts';

/** One accepted submission: the normalized signal, the payload as submitted, its job. */
export interface AcceptedSubmission {
  signal: NormalizedSignal;
  payload: unknown;
  jobId: string | null;
}

/** What {@link recordAcceptedBatch} found and did for one submission. */
export interface AcceptedRecord {
  /** The signal as first accepted (a second submission of the id is a no-op, whatever it carries). */
  signal: NormalizedSignal;
  /** This call stored it. */
  inserted: boolean;
  /** Another submission of an accepted id: stored as rejected, not tracked again. */
  duplicate: boolean;
  /** Its shard registration was already added (a retried job need not add it again). */
  forwarded: boolean;
  /** Its outcome is already committed (closed_signals): PostgreSQL answers for it now. */
  closed: boolean;
}

/**
 * Stores accepted signals and their `accepted` audit rows, once per id, and commits. The answer
 * for each submission is what storing them one after the other in this order would have given:
 * the first submission of an id is stored; a later one, in this batch or before it, is a
 * duplicate (stored as rejected with DUPLICATE_ID), except the same job again, which is BullMQ
 * retrying it. The caller registers the new signals on their shards only after this returns,
 * then marks them forwarded.
 *
 * The new rows and their audit rows are one statement (a multi-row INSERT … ON CONFLICT DO
 * NOTHING and an INSERT of the audit rows from its RETURNING), atomic without a transaction
 * around it: one round trip for a batch of new signals of one tenant (several tenants: their
 * audit chains are locked first, in one transaction). A batch whose JSON text is over
 * {@link MAX_STATEMENT_JSON} goes in several such statements, in order; a crash between two
 * leaves the first committed, as a crash after COMMIT does. Only when some id was there already
 * does a transaction follow, to read what was stored and record the duplicates; a crash in
 * between leaves the new rows committed and the duplicates' jobs to run again, which finds
 * them duplicates again.
 */
export async function recordAcceptedBatch(
  pool: pg.Pool,
  submissions: readonly AcceptedSubmission[],
  options: { maxStatementJson?: number } = {},
): Promise<AcceptedRecord[]> {
  if (submissions.length === 0) return [];
  // The first submission of each id in the batch is the one that may insert it.
  const first = new Map<string, number>();
  submissions.forEach((s, i) => {
    if (!first.has(s.signal.id)) first.set(s.signal.id, i);
  });
  const candidates = [...first.values()].map((i) => submissions[i]!);
  // Each audit row takes its tenant's chain (docs/STORAGE.md "Audit chain") until COMMIT: a batch
  // of several tenants takes them all first, in the one order, so that two batches queue instead
  // of deadlocking. A batch of one tenant stays one statement.
  const tenants = [...new Set(candidates.map(({ signal }) => signal.tenant ?? null))];
  const inserted =
    tenants.length > 1
      ? await inTransaction(pool, async (client) => {
          await lockTenantAuditChains(client, tenants);
          return insertNew(client, candidates, options.maxStatementJson);
        })
      : await insertNew(pool, candidates, options.maxStatementJson);
  if (inserted.size === submissions.length) {
    return submissions.map(({ signal }) => ({
      signal,
      inserted: true,
      duplicate: false,
      forwarded: false,
      closed: false,
    }));
  }
  return inTransaction(pool, (client) => resolveOthers(client, submissions, first, inserted));
}

/**
 * The insert of {@link insertNew}: the batch's rows as one JSON array, one parameter, so that its
 * text is the same for every batch size and PostgreSQL parses and plans it once a connection (a
 * named statement), where one placeholder a value made a new text of up to 13 ×
 * INTAKE_CONCURRENCY parameters for each batch size (docs/BENCHMARKS.md "Intake: one statement
 * text"). One JSON text, not a text array a column: `pg` escaped every payload's quotes into
 * an array literal, and the payload and normalized columns are parsed once, as part of the
 * document, not each from its own text (docs/BENCHMARKS.md "The intake at 512 jobs at once").
 * `ORDER BY n` keeps the submissions' order for `seq`, and so for the audit chain.
 */
const INSERT_NEW = {
  // Renamed with its text: a connection pooler may map prepared statements by name.
  name: 'outcome-tracker:record-accepted-json',
  text: `WITH new AS (
       INSERT INTO signals (id, status, tenant, symbol, side, strategy, model, model_version, timeframe,
                            confidence, created_at, payload, normalized, job_id)
       SELECT id, 'accepted', tenant, symbol, side, strategy, model, model_version, timeframe,
              confidence, ${fromMs('created_ms')}, payload, normalized, job_id
       FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (
              id text, tenant text, symbol text, side text, strategy text, model text,
              model_version text, timeframe text, confidence float8, created_ms bigint,
              payload jsonb, normalized jsonb, job_id text))
              WITH ORDINALITY AS u (id, tenant, symbol, side, strategy, model, model_version,
                                    timeframe, confidence, created_ms, payload, normalized, job_id, n)
       ORDER BY n
       ON CONFLICT (id) WHERE status = 'accepted' DO NOTHING
       RETURNING seq, id, tenant, created_at, job_id
     ), audit AS (
       INSERT INTO audit_logs (at, signal_id, tenant, event, details)
       SELECT created_at, id, tenant, 'accepted', jsonb_build_object('jobId', job_id) FROM new ORDER BY seq
     )
     SELECT id FROM new`,
};

/**
 * Most JSON text one insert statement carries (UTF-16 code units, about bytes). PostgreSQL holds
 * at most 256 MB in a jsonb value, and a number takes up to about six times the room of its
 * text there (64 KiB payloads of small integers, `MAX_PAYLOAD_BYTES`' default, reach the limit at
 * about 340 rows, payload and normalized form together).
 */
const MAX_STATEMENT_JSON = 16 * 1024 * 1024;

/** Inserts the signals whose ids are not accepted yet, with their audit rows; answers their ids. */
async function insertNew(
  db: Queryable,
  candidates: readonly AcceptedSubmission[],
  maxStatementJson = MAX_STATEMENT_JSON,
): Promise<Set<string>> {
  const inserted = new Set<string>();
  const send = async (json: string): Promise<void> => {
    const result = await db.query<{ id: string }>({ ...INSERT_NEW, values: [json] });
    for (const r of result.rows) inserted.add(r.id);
  };
  const rows = candidates.map(insertRow);
  // One text for the whole batch, as nearly always; rows one by one only over the limit.
  const whole = JSON.stringify(rows);
  if (whole.length <= maxStatementJson) {
    await send(whole);
    return inserted;
  }
  let part: string[] = [];
  let length = 2;
  for (const row of rows) {
    const json = JSON.stringify(row);
    if (part.length > 0 && length + json.length > maxStatementJson) {
      await send(`[${part.join(',')}]`);
      part = [];
      length = 2;
    }
    part.push(json);
    length += json.length + 1;
  }
  await send(`[${part.join(',')}]`);
  return inserted;
}

/** One row of {@link INSERT_NEW}'s JSON array. */
function insertRow({ signal, payload, jobId }: AcceptedSubmission): Record<string, unknown> {
  return {
    id: signal.id,
    tenant: signal.tenant,
    symbol: signal.symbol,
    side: signal.side,
    strategy: signal.strategy ?? null,
    model: signal.model ?? null,
    model_version: signal.modelVersion ?? null,
    timeframe: signal.timeframe ?? null,
    confidence: signal.confidence ?? null,
    created_ms: signal.createdAt,
    payload,
    normalized: signal,
    job_id: jobId,
  };
}

interface Existing {
  normalized: NormalizedSignal;
  job_id: string | null;
  forwarded: boolean;
  closed: boolean;
}

/** The answers for a batch some of whose ids were accepted before: duplicates recorded as rejected. */
async function resolveOthers(
  client: pg.PoolClient,
  submissions: readonly AcceptedSubmission[],
  first: ReadonlyMap<string, number>,
  inserted: ReadonlySet<string>,
): Promise<AcceptedRecord[]> {
  await lockTenantAuditChains(client, [...new Set(submissions.map(({ signal }) => signal.tenant ?? null))]);
  const known = new Map<string, Existing>();
  const stale = [...first.keys()].filter((id) => !inserted.has(id));
  if (stale.length > 0) {
    const found = await client.query<Existing & { id: string }>(
      `SELECT s.id, s.normalized, s.job_id, s.forwarded_at IS NOT NULL AS forwarded,
              EXISTS (SELECT 1 FROM closed_signals c WHERE c.signal_id = s.id) AS closed
       FROM signals s WHERE s.id = ANY($1::text[]) AND s.status = 'accepted'`,
      [stale],
    );
    for (const row of found.rows) known.set(row.id, row);
  }
  for (const id of inserted) {
    const s = submissions[first.get(id)!]!;
    known.set(id, { normalized: s.signal, job_id: s.jobId, forwarded: false, closed: false });
  }

  const records: AcceptedRecord[] = [];
  for (const [i, { signal, payload, jobId }] of submissions.entries()) {
    if (first.get(signal.id) === i && inserted.has(signal.id)) {
      records.push({ signal, inserted: true, duplicate: false, forwarded: false, closed: false });
      continue;
    }
    const existing = known.get(signal.id);
    if (existing === undefined) throw new Error(`signal ${signal.id} was neither inserted nor found`);
    // The same job again is BullMQ retrying it: nothing to record. Another submission of the
    // id is a no-op for tracking, but it is stored (as replay reports it), never dropped silently.
    const duplicate = existing.job_id !== jobId;
    if (duplicate && (jobId === null || (await claimDuplicate(client, jobId, signal.id, payload)))) {
      const rejection = trackerError(
        'DUPLICATE_ID',
        `id: ${signal.id} was already accepted (job ${existing.job_id ?? '?'}); this submission is ignored`,
      );
      await insertRejected(client, {
        id: signal.id,
        tenant: signal.tenant,
        payload,
        errors: [rejection.message],
        codes: [rejection.code],
        jobId,
      });
    }
    records.push({
      signal: existing.normalized,
      inserted: false,
      duplicate,
      forwarded: existing.forwarded,
      closed: existing.closed,
    });
  }
  return records;
}

/**
 * Whether this job's duplicate rejection is not stored yet: a job run again after a crash between
 * COMMIT and its completion (the worker SIGKILLed) stores it once (docs/STORAGE.md "outbox_applied").
 */
async function claimDuplicate(
  client: pg.PoolClient,
  jobId: string,
  id: string,
  payload: unknown,
): Promise<boolean> {
  const key = rejectionLedgerKey(
    QUEUE_NAMES.trackSignal,
    jobId,
    JSON.stringify([id, 'DUPLICATE_ID', payload]),
  );
  const fresh = await client.query(
    `INSERT INTO outbox_applied (key) VALUES ($1) ON CONFLICT DO NOTHING RETURNING key`,
    [key],
  );
  return fresh.rowCount !== 0;
}
