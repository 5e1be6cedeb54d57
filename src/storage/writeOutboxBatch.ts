import type { AuditEvent } from '../names.ts';
import type { OutcomeLine } from '../../machines/types.ts';
import { fromMs } from './epochMs.ts';
import { lockAuditChains } from './lockAuditChains.ts';
import type { OutboxEntry } from './OutboxEntry.ts';
import type { Queryable } from './Queryable.ts';

/** A closed outcome from a shard's outbox. */
export interface ClosedOutcome {
  symbol: string;
  outcome: OutcomeLine;
}

/** An operation result or catch-up gap from a shard's outbox, with its ledger key. */
export interface AuditEntry {
  /** Unique per outbox entry (see migrations/1764000000003_outbox-ledger.sql). */
  ledgerKey: string;
  entry: Extract<OutboxEntry, { kind: 'op' | 'catchup_gap' }>;
}

/** What {@link writeOutboxBatch} did with each outcome, and how many audit rows it wrote. */
export interface OutboxBatchResult {
  /** Signal ids whose outcome this call wrote. */
  written: string[];
  /** Signal ids whose outcome was already there (a batch written before, not yet removed). */
  alreadyWritten: string[];
  /** Signal ids with no accepted row in `signals`: nothing written, left for a later pass. */
  orphans: string[];
  /** Audit rows written for operation results and gaps. */
  audits: number;
}

/**
 * Writes one outbox batch, idempotently, on `client` inside the caller's transaction
 * (docs/STORAGE.md "Flusher contract"): each outcome is claimed in `closed_signals` and its
 * outcome row, leg rows and `closed` audit row are written only when the claim is new; each
 * other entry is claimed in `outbox_applied` and its audit row written only when new. The
 * grouping keys come from the signal's accepted row.
 */
export async function writeOutboxBatch(
  client: Queryable,
  closed: ClosedOutcome[],
  audits: AuditEntry[],
): Promise<OutboxBatchResult> {
  const result: OutboxBatchResult = { written: [], alreadyWritten: [], orphans: [], audits: 0 };
  // Claims in a fixed order, so that two flushers working on overlapping batches take the row
  // locks in the same order and cannot deadlock each other.
  const byId = new Map(closed.map((c) => [c.outcome.id, c]));
  const ids = [...byId.keys()].sort();
  if (ids.length > 0) {
    const known = await client.query<{ id: string }>(
      `SELECT id FROM signals WHERE status = 'accepted' AND id = ANY($1::text[])`,
      [ids],
    );
    const accepted = new Set(known.rows.map((r) => r.id));
    const claimable = ids.filter((id) => accepted.has(id));
    result.orphans = ids.filter((id) => !accepted.has(id));
    if (claimable.length > 0) {
      const claimed = await client.query<{ signal_id: string }>(
        `INSERT INTO closed_signals (signal_id, closed_at)
         SELECT x.id, ${fromMs('x.ms')} FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS x(id, ms, n)
         ORDER BY x.n
         ON CONFLICT (signal_id) DO NOTHING
         RETURNING signal_id`,
        [claimable, claimable.map((id) => byId.get(id)!.outcome.closedAt!)],
      );
      const fresh = new Set(claimed.rows.map((r) => r.signal_id));
      result.written = claimable.filter((id) => fresh.has(id));
      result.alreadyWritten = claimable.filter((id) => !fresh.has(id));
    }
  }
  const outcomes = result.written.map((id) => byId.get(id)!);
  const tenants = outcomes.length > 0 ? await insertOutcomes(client, outcomes) : new Map<string, string>();

  let rows: ReturnType<typeof auditRow>[] = [];
  if (audits.length > 0) {
    const keys = audits.map((a) => a.ledgerKey).sort();
    const claimed = await client.query<{ key: string }>(
      `INSERT INTO outbox_applied (key) SELECT k FROM unnest($1::text[]) WITH ORDINALITY AS x(k, n) ORDER BY x.n
       ON CONFLICT (key) DO NOTHING RETURNING key`,
      [keys],
    );
    const fresh = new Set(claimed.rows.map((r) => r.key));
    rows = audits.filter((a) => fresh.has(a.ledgerKey)).map((a) => auditRow(a.entry));
  }

  // The audit rows last. Their tenants' audit chains are taken here, all in one order (two
  // flushers with overlapping tenants queue instead of deadlocking), and held to COMMIT
  // (docs/STORAGE.md "Audit chain"): only for these rows, so that other flushers writing for the
  // same tenants make their claims and outcome rows meanwhile. A transaction holding its chains
  // waits for no row lock, so the claims above cannot deadlock with it.
  await lockAuditChains(client, {
    tenants: [...tenants.values()],
    signalIds: rows.map((r) => r.signal_id),
  });
  if (outcomes.length > 0) await insertClosedAudits(client, outcomes, tenants);
  if (rows.length > 0) {
    await client.query(
      `INSERT INTO audit_logs (at, signal_id, tenant, event, details)
       SELECT ${fromMs('x.at')}, x.signal_id, s.tenant, x.event, x.details
       FROM jsonb_to_recordset($1::jsonb) AS x(n int, at bigint, signal_id text, event text, details jsonb)
       LEFT JOIN signals s ON s.id = x.signal_id AND s.status = 'accepted'
       ORDER BY x.n`,
      // In market-time order, so that the audit log's ids follow the timeline.
      [JSON.stringify(rows.sort((a, b) => a.at - b.at).map((row, n) => ({ n, ...row })))],
    );
    result.audits = rows.length;
  }
  return result;
}

/** The audit row of an operation result or a catch-up gap. */
function auditRow(entry: AuditEntry['entry']): {
  at: number;
  signal_id: string;
  event: AuditEvent;
  details: object;
} {
  if (entry.kind === 'catchup_gap') {
    const { symbol, createdAt, missedUpTo } = entry;
    return {
      at: createdAt,
      signal_id: entry.id,
      event: 'catchup_gap',
      details: { symbol, createdAt, missedUpTo },
    };
  }
  const { op } = entry;
  if (!entry.applied) {
    const details = { op, errors: entry.errors, ...(entry.codes !== undefined && { codes: entry.codes }) };
    return { at: op.ts, signal_id: op.id, event: 'op_rejected', details };
  }
  const event = op.op === 'amend' ? 'amended' : op.op === 'cancel' ? 'cancelled' : 'exited';
  return { at: op.ts, signal_id: op.id, event, details: { op } };
}

/** The accepted signal of each row `x`: its grouping keys. */
const OUTCOME_SIGNAL = `JOIN signals s ON s.id = x.signal_id AND s.status = 'accepted'`;

/**
 * Outcome rows and leg rows for newly claimed outcomes; answers each one's tenant, from its
 * accepted signal.
 */
async function insertOutcomes(client: Queryable, outcomes: ClosedOutcome[]): Promise<Map<string, string>> {
  const rows = outcomes.map(({ outcome: o }) => ({
    signal_id: o.id,
    closed_at: o.closedAt,
    outcome: o.outcome,
    partial: o.partial ?? false,
    fill_ts: o.fill?.ts ?? null,
    fill_price: o.fill?.price ?? null,
    holding_ms: o.holdingMs ?? null,
    gross_return: o.grossReturn ?? null,
    net_return: o.netReturn ?? null,
    r_multiple: o.rMultiple ?? null,
    pnl: o.pnl ?? null,
    fees: o.fees ?? null,
    mfe: o.mfe ?? null,
    mae: o.mae ?? null,
    stale: o.stale === true,
    legs: o.legs,
  }));
  // A new claim has no outcome row yet, so each comes back with its tenant; one that had a row
  // already (ON CONFLICT) is looked up below.
  const inserted = await client.query<{ signal_id: string; tenant: string }>(
    `INSERT INTO signal_outcomes (signal_id, closed_at, tenant, symbol, side, strategy, model, model_version,
       timeframe, confidence, signal_created_at, outcome, partial, fill_ts, fill_price, holding_ms,
       gross_return, net_return, r_multiple, pnl, fees, mfe, mae, stale, legs)
     SELECT x.signal_id, ${fromMs('x.closed_at')}, s.tenant, s.symbol, s.side, s.strategy, s.model, s.model_version,
       s.timeframe, s.confidence, s.created_at, x.outcome, x.partial,
       CASE WHEN x.fill_ts IS NULL THEN NULL ELSE ${fromMs('x.fill_ts')} END, x.fill_price, x.holding_ms,
       x.gross_return, x.net_return, x.r_multiple, x.pnl, x.fees, x.mfe, x.mae, x.stale, x.legs
     FROM jsonb_to_recordset($1::jsonb) AS x(signal_id text, closed_at bigint, outcome text, partial boolean,
       fill_ts bigint, fill_price float8, holding_ms bigint, gross_return float8, net_return float8,
       r_multiple float8, pnl float8, fees float8, mfe float8, mae float8, stale boolean, legs jsonb)
     ${OUTCOME_SIGNAL}
     ON CONFLICT DO NOTHING
     RETURNING signal_id, tenant`,
    [JSON.stringify(rows)],
  );
  const tenants = new Map(inserted.rows.map((r) => [r.signal_id, r.tenant]));
  const missing = outcomes.map(({ outcome: o }) => o.id).filter((id) => !tenants.has(id));
  if (missing.length > 0) {
    const found = await client.query<{ id: string; tenant: string }>(
      `SELECT id, tenant FROM signals WHERE status = 'accepted' AND id = ANY($1::text[])`,
      [missing],
    );
    for (const r of found.rows) tenants.set(r.id, r.tenant);
  }
  const legs = outcomes.flatMap(({ outcome: o }) =>
    o.legs.map((leg, i) => ({
      signal_id: o.id,
      leg_index: i,
      ts: leg.ts,
      reason: leg.reason,
      level: leg.level ?? null,
      stop_kind: leg.stopKind ?? null,
      price: leg.price,
      fraction: leg.fraction,
    })),
  );
  if (legs.length > 0) {
    await client.query(
      `INSERT INTO tp_sl_hits (signal_id, leg_index, ts, reason, level, stop_kind, price, fraction,
         tenant, symbol, side, strategy, model, model_version)
       SELECT x.signal_id, x.leg_index, ${fromMs('x.ts')}, x.reason, x.level, x.stop_kind, x.price, x.fraction,
         s.tenant, s.symbol, s.side, s.strategy, s.model, s.model_version
       FROM jsonb_to_recordset($1::jsonb) AS x(signal_id text, leg_index smallint, ts bigint, reason text,
         level smallint, stop_kind text, price float8, fraction float8)
       ${OUTCOME_SIGNAL}
       ON CONFLICT DO NOTHING`,
      [JSON.stringify(legs)],
    );
  }
  return tenants;
}

/** The `closed` audit rows of newly claimed outcomes, in the order they closed. */
async function insertClosedAudits(
  client: Queryable,
  outcomes: ClosedOutcome[],
  tenants: ReadonlyMap<string, string>,
): Promise<void> {
  const rows = outcomes
    .map(({ outcome: o }) => ({
      signal_id: o.id,
      tenant: tenants.get(o.id)!,
      closed_at: o.closedAt!,
      details: { outcome: o.outcome, legs: o.legs.length, ...(o.stale ? { stale: true } : {}) },
    }))
    .sort((a, b) => a.closed_at - b.closed_at);
  await client.query(
    `INSERT INTO audit_logs (at, signal_id, tenant, event, details)
     SELECT ${fromMs('x.closed_at')}, x.signal_id, x.tenant, 'closed', x.details
     FROM jsonb_to_recordset($1::jsonb) AS x(n int, signal_id text, tenant text, closed_at bigint, details jsonb)
     ORDER BY x.n`,
    [JSON.stringify(rows.map((row, n) => ({ n, ...row })))],
  );
}
