import { createHash } from 'node:crypto';
import type { RedisClient } from '../RedisClient.ts';
import type { Logger } from 'pino';
import type pg from 'pg';
import type { OutboxEntry } from '../storage/OutboxEntry.ts';
import { writeOutboxBatch, type AuditEntry, type ClosedOutcome } from '../storage/writeOutboxBatch.ts';
import { inTransaction } from '../storage/inTransaction.ts';
import { recordOrphansDropped, type DroppedOrphan } from '../storage/recordOrphansDropped.ts';
import {
  backoffMs,
  isResourcePgError,
  isRetryablePgError,
  type BackoffOptions,
} from '../storage/retryablePg.ts';
import { findSignalLabels, type SignalLabels } from '../storage/findSignalLabels.ts';
import { publishEvents, type EventRetention } from '../events/publishEvents.ts';
import type { EventType, KeyedEvent, TrackerEvent } from '../events/TrackerEvent.ts';
import { EventKeys, JOB_NAMES, LUA_COMMANDS, outboxLedgerKey, ShardKeys } from '../names.ts';
import { createShardQueues } from './shardQueues.ts';

export interface FlusherOptions {
  /** A Redis client for the outboxes. */
  redis: RedisClient;
  pool: pg.Pool;
  /** QUEUE_PREFIX. */
  prefix: string;
  /** SHARDS: every shard's outbox is drained. */
  shards: number;
  /** Outbox entries per PostgreSQL transaction (FLUSH_BATCH_SIZE). */
  batchSize: number;
  /**
   * Shards drained at once, each with its own transactions (FLUSH_CONCURRENCY): their claims
   * and outcome rows run side by side, their audit rows one tenant's chain at a time. The pool
   * needs this many connections. @defaultValue 2
   */
  concurrency?: number;
  /** Pause between passes that found nothing to flush (FLUSH_INTERVAL_MS). */
  intervalMs: number;
  log: Logger;
  now: () => number;
  /** Backoff after a failed pass (PostgreSQL or Redis unreachable). @defaultValue 100 ms doubling to 30 s */
  retry?: BackoffOptions;
  /**
   * Publish the events of each committed batch to the events stream (EVENTS_RETENTION…) before
   * removing its entries. Absent: events are not published (their entries still go).
   */
  events?: EventRetention;
  /** Told of each committed batch and each pass (metrics). */
  metrics?: FlusherMetrics;
  /**
   * How long an entry of a signal PostgreSQL does not know waits in the outbox before it is
   * dropped with an `orphan_dropped` audit row (FLUSH_ORPHAN_GRACE_MS). @defaultValue 300000
   */
  orphanGraceMs?: number;
}

/** What the flusher tells the process's metrics, at batch and pass boundaries. */
export interface FlusherMetrics {
  /**
   * A batch committed: outcomes it wrote (not those already there), for each the ms from the
   * checkpoint that closed it to this commit (entries that carry `closedWallMs`), and the
   * entries then removed from the outbox.
   */
  batchCommitted(batch: { outcomes: number; closeToCommitMs: number[]; removed: number }): void;
  /** A pass of the loop ended: `ok`, or failed on a transient error (entries stay for the next). */
  pass(ok: boolean, refusedEntries: number): void;
  /** Entries of signals PostgreSQL does not know were dropped after their grace (each with an audit row). */
  orphansDropped(entries: number): void;
}

export interface Flusher {
  /**
   * One pass over every shard's outbox: writes each batch to PostgreSQL in one transaction,
   * then removes it from Redis. Returns the number of entries removed. Rejects when PostgreSQL
   * or Redis fails with a transient error (entries stay in the outbox for the next pass); an
   * entry PostgreSQL refuses for good (bad data) is logged and left in the outbox.
   */
  flushOnce(): Promise<number>;
  /** Flushes in a loop: again at once while there was work, after `intervalMs` when idle, with jittered backoff after failures. */
  start(): void;
  /** Stops the loop after the batches in flight (no new batch starts). */
  close(): Promise<void>;
}

/**
 * Deletes each `field` whose value is still `value`: an entry rewritten since it was read
 * (which the shards never do for one key, but the outbox must not depend on it) stays.
 */
const DELETE_IF_UNCHANGED_LUA = `
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
`;

type RedisWithDelete = RedisClient & { otOutboxDelete(key: string, ...pairs: string[]): Promise<number> };

function withDelete(redis: RedisClient): RedisWithDelete {
  const r = redis as RedisWithDelete;
  if (typeof r.otOutboxDelete !== 'function') {
    redis.defineCommand(LUA_COMMANDS.outboxDelete, { numberOfKeys: 1, lua: DELETE_IF_UNCHANGED_LUA });
  }
  return r;
}

/** An outbox entry as read: its key, its stored JSON, and the shard it came from. */
interface RawEntry {
  shard: number;
  key: string;
  value: string;
}

/**
 * The flusher (DESIGN.md decision 5): moves closed outcomes, operation results and catch-up
 * gaps from the shards' Redis outboxes to PostgreSQL, one transaction per batch, idempotently
 * (a batch written twice writes nothing twice), and removes them from Redis only after COMMIT.
 * While PostgreSQL is down, entries wait in Redis. Any number of flushers may run: they may
 * write the same batch at once, and the ledgers make the second a no-op.
 */
export function createFlusher(opts: FlusherOptions): Flusher {
  const log = opts.log.child({ component: 'flusher' });
  const redis = withDelete(opts.redis);
  const shardKeys = Array.from({ length: opts.shards }, (_, n) => new ShardKeys(opts.prefix, n));
  const eventKeys = new EventKeys(opts.prefix);
  const shardQueues = createShardQueues({
    connection: opts.redis,
    prefix: opts.prefix,
    onError: (err, shard) => log.warn({ err, shard }, 'shard queue error'),
  });
  /** Entries PostgreSQL refused for good, by `shard|key` → the value refused (retried if it changes). */
  const refused = new Map<string, string>();
  /**
   * Entries (outcomes, events) whose signal is not in `signals`, by `shard|key` → when this
   * flusher first saw them: warned about once, dropped once FLUSH_ORPHAN_GRACE_MS has passed.
   */
  const orphanSince = new Map<string, number>();
  const orphanGraceMs = opts.orphanGraceMs ?? 300_000;
  const concurrency = opts.concurrency ?? 2;
  let stopping = false;
  let pass: Promise<number> = Promise.resolve(0);
  let loop: Promise<void> | null = null;
  let wake: (() => void) | null = null;

  function flushOnce(): Promise<number> {
    // One pass at a time per flusher: a second call waits for the first, then makes its own.
    pass = pass.catch(() => 0).then(runPass);
    return pass;
  }

  /**
   * Drains every shard's outbox, `concurrency` shards at a time. A shard that fails does not stop
   * the others; the pass then fails with the first error once all have ended, so that no shard
   * is still being drained when the next pass starts.
   */
  async function runPass(): Promise<number> {
    let flushed = 0;
    let nextShard = 0;
    const drainShards = async (): Promise<void> => {
      while (nextShard < opts.shards && !stopping) {
        // Not `flushed += await …`: that reads `flushed` before the other drains add to it.
        const removed = await drainShard(nextShard++);
        flushed += removed;
      }
    };
    const drains = await Promise.allSettled(
      Array.from({ length: Math.min(concurrency, opts.shards) }, drainShards),
    );
    const failed = drains.find((d) => d.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return flushed;
  }

  /** Writes one shard's outbox in batches of `batchSize` entries; answers the entries removed. */
  async function drainShard(shard: number): Promise<number> {
    const keys = shardKeys[shard]!;
    const pending: RawEntry[] = [];
    const seen = new Set<string>();
    let flushed = 0;
    let cursor = '0';
    do {
      const [next, flat] = await opts.redis.hscan(keys.outbox, cursor, 'COUNT', opts.batchSize);
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const key = flat[i]!;
        // HSCAN may return a field twice; the batch holds it once.
        if (seen.has(key)) continue;
        seen.add(key);
        const value = flat[i + 1]!;
        if (refused.get(`${shard}|${key}`) === value) continue;
        pending.push({ shard, key, value });
      }
      while (pending.length >= opts.batchSize && !stopping)
        flushed += await flushBatch(keys, pending.splice(0, opts.batchSize));
    } while (cursor !== '0' && !stopping);
    if (pending.length > 0 && !stopping) flushed += await flushBatch(keys, pending);
    return flushed;
  }

  /**
   * Writes a batch; on an error that retrying cannot cure (a constraint violation: bad data),
   * splits it to find the entries at fault, writes the rest, and leaves those in the outbox.
   * PostgreSQL short of resources (out of lock-table room, memory) splits it too, since the
   * batch's own size may be the cause; a single entry then waits like any transient failure.
   */
  async function flushBatch(keys: ShardKeys, batch: RawEntry[]): Promise<number> {
    try {
      return await writeBatch(keys, batch);
    } catch (err) {
      const split = batch.length > 1 && isResourcePgError(err);
      if (!split && (isRetryablePgError(err) || !isPgError(err))) throw err;
      if (batch.length === 1) {
        const entry = batch[0]!;
        refused.set(`${entry.shard}|${entry.key}`, entry.value);
        log.error(
          { err, shard: entry.shard, key: entry.key, entry: entry.value },
          'PostgreSQL refused an outbox entry; it stays in the outbox (fix the data or the schema, then restart the flusher)',
        );
        return 0;
      }
      const half = Math.ceil(batch.length / 2);
      return (await flushBatch(keys, batch.slice(0, half))) + (await flushBatch(keys, batch.slice(half)));
    }
  }

  async function writeBatch(keys: ShardKeys, batch: RawEntry[]): Promise<number> {
    const started = opts.now();
    const closed: ClosedOutcome[] = [];
    const audits: AuditEntry[] = [];
    const closedKey = new Map<string, RawEntry>();
    /** When each closed outcome's checkpoint committed (wall ms), where the entry says. */
    const closedAt = new Map<string, number>();
    const done: RawEntry[] = [];
    /** Entries that are events only (fill, leg, stop move): published, never stored. */
    const shardEvents: { raw: RawEntry; entry: Extract<OutboxEntry, { kind: 'event' }> }[] = [];
    /** What goes to the events stream once the batch has committed, with its outbox entry. */
    const toPublish: KeyedEvent[] = [];
    /** Entries of signals PostgreSQL does not know, past their grace: dropped after this batch. */
    const expired: { raw: RawEntry; id: string; closed: boolean }[] = [];
    const orphan = (raw: RawEntry, id: string, closed: boolean): void => {
      const since = orphanSince.get(`${raw.shard}|${raw.key}`);
      if (since === undefined) {
        orphanSince.set(`${raw.shard}|${raw.key}`, opts.now());
        log.warn(
          { shard: raw.shard, signalId: id, key: raw.key, graceMs: orphanGraceMs },
          `${closed ? 'closed outcome' : 'event'} of a signal that is not in the signals table; it waits in the outbox, and is dropped with an orphan_dropped audit row once FLUSH_ORPHAN_GRACE_MS has passed`,
        );
      } else if (opts.now() - since >= orphanGraceMs) expired.push({ raw, id, closed });
    };
    for (const raw of batch) {
      const entry = parseEntry(raw.value);
      if (entry === null) {
        refused.set(`${raw.shard}|${raw.key}`, raw.value);
        log.error(
          { shard: raw.shard, key: raw.key, entry: raw.value },
          'outbox entry is not in the documented format (src/live/messages.ts); left in the outbox',
        );
        continue;
      }
      if (entry.kind === 'closed') {
        closed.push({ symbol: entry.symbol, outcome: entry.outcome });
        closedKey.set(entry.outcome.id, raw);
        if (entry.closedWallMs !== undefined) closedAt.set(entry.outcome.id, entry.closedWallMs);
      } else if (entry.kind === 'event') {
        shardEvents.push({ raw, entry });
      } else {
        audits.push({ ledgerKey: ledgerKey(raw), entry });
        done.push(raw);
      }
    }
    if (closed.length === 0 && audits.length === 0 && shardEvents.length === 0) return 0;

    const publishing = opts.events !== undefined;
    const [result, labels] = await inTransaction(opts.pool, async (client) => {
      const ids = publishing
        ? [
            ...closed.map((c) => c.outcome.id),
            ...audits.map((a) => (a.entry.kind === 'op' ? a.entry.op.id : a.entry.id)),
            ...shardEvents.map((e) => e.entry.id),
          ]
        : [];
      // The labels first: writeOutboxBatch ends holding audit chains, kept short until COMMIT.
      const found = await findSignalLabels(client, ids);
      return [await writeOutboxBatch(client, closed, audits), found] as const;
    });
    const committedAt = opts.now();

    const committed = [...result.written, ...result.alreadyWritten];
    for (const id of committed) {
      const raw = closedKey.get(id)!;
      done.push(raw);
      orphanSince.delete(`${raw.shard}|${raw.key}`);
    }
    if (publishing) {
      const closedById = new Map(closed.map((c) => [c.outcome.id, c.outcome]));
      for (const id of committed) {
        const outcome = closedById.get(id)!;
        const event = labelled(labels, 'signal.closed', id, outcome.closedAt!, { ...outcome });
        if (event !== null) toPublish.push({ key: `closed:${id}`, event });
      }
      for (const a of audits) {
        if (a.entry.kind !== 'op') continue;
        const { op, applied, errors, codes } = a.entry;
        const type = applied ? 'operation.applied' : 'operation.rejected';
        const data = applied ? { op } : { op, errors, ...(codes !== undefined && { codes }) };
        const event = labelled(labels, type, op.id, op.ts, data);
        // An operation on a signal no tenant owns (unknown to PostgreSQL) is in the audit log only.
        if (event !== null) toPublish.push({ key: a.ledgerKey, event });
      }
    }
    for (const { raw, entry } of shardEvents) {
      if (!publishing) {
        done.push(raw);
        continue;
      }
      const event = labelled(labels, entry.type, entry.id, entry.ts, entry.data);
      if (event === null) {
        // Its signal is not in `signals` (yet): it waits in the outbox, as its outcome would.
        orphan(raw, entry.id, false);
        continue;
      }
      orphanSince.delete(`${raw.shard}|${raw.key}`);
      done.push(raw);
      toPublish.push({ key: raw.key, event });
    }
    if (committed.length > 0) {
      // PostgreSQL answers for these ids now: the shard may drop them from its ledger. Through
      // its queue, so that a registration already queued for one of them is refused first.
      // Before the outbox entries go: a crash in between sends the same forget again.
      // Not kept once done: a completed job would hold up to FLUSH_BATCH_SIZE closed ids.
      await shardQueues.add(
        keys.shard,
        JOB_NAMES.forget,
        { kind: 'forget', ids: committed },
        { removeOnComplete: true },
      );
    }
    for (const id of result.orphans) orphan(closedKey.get(id)!, id, true);
    if (expired.length > 0) await dropOrphans(keys, expired, done);
    // The output gate (DESIGN.md decision 12): events leave only after PostgreSQL committed
    // the batch, and before their entries go, so a crash in between publishes them again
    // (with the same keys) rather than never.
    if (toPublish.length > 0) {
      toPublish.sort((a, b) => a.event.ts - b.event.ts || RANK[a.event.type] - RANK[b.event.type]);
      await publishEvents(opts.redis, eventKeys, toPublish, opts.events!, opts.now);
    }
    const removed =
      done.length === 0
        ? 0
        : await redis.otOutboxDelete(keys.outbox, ...done.flatMap((r) => [r.key, r.value]));
    opts.metrics?.batchCommitted({
      outcomes: result.written.length,
      closeToCommitMs: result.written.flatMap((id) => {
        const at = closedAt.get(id);
        return at === undefined ? [] : [committedAt - at];
      }),
      removed,
    });
    log.debug(
      {
        shard: keys.shard,
        outcomes: result.written.length,
        alreadyWritten: result.alreadyWritten.length,
        audits: result.audits,
        orphans: result.orphans.length,
        events: toPublish.length,
        removed,
        ms: opts.now() - started,
      },
      'outbox batch flushed',
    );
    return removed;
  }

  /**
   * Drops outbox entries whose signal PostgreSQL still does not know after the grace: only a
   * registration put on a shard queue by a foreign producer leaves them (the intake stores the
   * row before it registers). Each is recorded once as an `orphan_dropped` audit row with its
   * content, then goes with the batch's other entries (`done`); the shard forgets the closed
   * ones, so that its ledger does not keep them either.
   */
  async function dropOrphans(
    keys: ShardKeys,
    expired: { raw: RawEntry; id: string; closed: boolean }[],
    done: RawEntry[],
  ): Promise<void> {
    const orphans: DroppedOrphan[] = expired.map(({ raw, id }) => ({
      ledgerKey: `orphan:${keys.shard}:${raw.key}`,
      signalId: id,
      details: { shard: keys.shard, key: raw.key, entry: JSON.parse(raw.value) as unknown },
    }));
    const at = opts.now();
    const recorded = await inTransaction(opts.pool, (client) => recordOrphansDropped(client, at, orphans));
    const closedIds = expired.filter((e) => e.closed).map((e) => e.id);
    if (closedIds.length > 0)
      await shardQueues.add(
        keys.shard,
        JOB_NAMES.forget,
        { kind: 'forget', ids: closedIds },
        { removeOnComplete: true },
      );
    for (const { raw } of expired) {
      orphanSince.delete(`${raw.shard}|${raw.key}`);
      done.push(raw);
    }
    opts.metrics?.orphansDropped(expired.length);
    log.warn(
      { shard: keys.shard, signalIds: expired.map((e) => e.id), recorded, graceMs: orphanGraceMs },
      'outbox entries of signals PostgreSQL does not know dropped after FLUSH_ORPHAN_GRACE_MS (orphan_dropped audit rows)',
    );
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (!stopping) {
      let waitMs: number;
      try {
        const n = await flushOnce();
        if (failures > 0) log.info({ failures }, 'flusher recovered');
        opts.metrics?.pass(true, refused.size);
        failures = 0;
        waitMs = n > 0 ? 0 : opts.intervalMs;
      } catch (err) {
        waitMs = backoffMs(failures++, opts.retry);
        opts.metrics?.pass(false, refused.size);
        const level = failures === 1 || failures % 20 === 0 ? 'warn' : 'debug';
        log[level]({ err, failures, waitMs }, 'flush failed; entries stay in the outbox; retrying');
      }
      if (waitMs > 0 && !stopping) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
    }
  }

  return {
    flushOnce,
    start() {
      if (loop !== null || stopping) return;
      loop = run();
    },
    async close() {
      stopping = true;
      wake?.();
      await loop;
      await pass.catch(() => 0);
      await shardQueues.close();
    },
  };
}

/** Order of events at the same market time: what a consumer expects to read first. */
const RANK: Record<EventType, number> = {
  'signal.accepted': 0,
  'signal.rejected': 0,
  'signal.filled': 1,
  'operation.applied': 2,
  'operation.rejected': 2,
  'signal.stop_moved': 3,
  'signal.leg': 4,
  'signal.closed': 5,
};

/** An event of signal `id` with its tenant, symbol, strategy and model; null when PostgreSQL does not know the signal. */
function labelled(
  labels: Map<string, SignalLabels>,
  type: EventType,
  id: string,
  ts: number,
  data: Record<string, unknown>,
): TrackerEvent | null {
  const l = labels.get(id);
  if (l === undefined) return null;
  return {
    type,
    id,
    tenant: l.tenant,
    symbol: l.symbol,
    ...(l.strategy !== null && { strategy: l.strategy }),
    ...(l.model !== null && { model: l.model }),
    ts,
    data,
  };
}

/** The `outbox_applied` key of an entry: its shard, its outbox key, and a digest of its content. */
function ledgerKey(raw: RawEntry): string {
  const digest = createHash('sha256').update(raw.value).digest('hex').slice(0, 32);
  return outboxLedgerKey(raw.shard, raw.key, digest);
}

/**
 * An outbox entry, or null when the value is not one: the shards write these, so anything else
 * was put there by hand, and must be set aside rather than stop the flusher.
 */
function parseEntry(value: string): OutboxEntry | null {
  let e: unknown;
  try {
    e = JSON.parse(value);
  } catch {
    return null;
  }
  if (typeof e !== 'object' || e === null) return null;
  const entry = e as Record<string, unknown>;
  const obj = (x: unknown): Record<string, unknown> | null =>
    typeof x === 'object' && x !== null ? (x as Record<string, unknown>) : null;
  switch (entry.kind) {
    case 'closed': {
      const o = obj(entry.outcome);
      return o !== null && typeof o.id === 'string' && Array.isArray(o.legs) ? (entry as OutboxEntry) : null;
    }
    case 'op': {
      const op = obj(entry.op);
      return op !== null &&
        typeof op.id === 'string' &&
        typeof op.op === 'string' &&
        Array.isArray(entry.errors) &&
        (entry.codes === undefined || Array.isArray(entry.codes))
        ? (entry as OutboxEntry)
        : null;
    }
    case 'catchup_gap':
      return typeof entry.id === 'string' ? (entry as OutboxEntry) : null;
    case 'event':
      return typeof entry.id === 'string' &&
        typeof entry.type === 'string' &&
        Number.isFinite(entry.ts) &&
        obj(entry.data) !== null
        ? (entry as OutboxEntry)
        : null;
    default:
      return null;
  }
}

/** An error PostgreSQL itself reported (it has a SQLSTATE), as opposed to a bug of ours. */
function isPgError(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { code?: unknown }).code === 'string' &&
    /^[0-9A-Z]{5}$/.test((err as { code: string }).code)
  );
}
