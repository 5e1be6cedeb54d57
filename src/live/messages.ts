import { describeErrors } from '../errors.ts';
import { JOB_NAMES, OUTBOX_KEYS } from '../names.ts';
import { abbreviate, checkStorable } from '../validation/checkStorable.ts';
import { validateOperation } from '../validation/validateOperation.ts';
import { validateSignal } from '../validation/validateSignal.ts';
import type { NormalizedSignal, Phase, SignalContext } from '../../machines/signalContext.ts';
import type { Operation, Tick } from '../../machines/types.ts';
import type { OutboxEntry } from '../storage/OutboxEntry.ts';
import type { BookClockDelta } from '../engine/SymbolBook.ts';

/** A tick on the wire: `[symbol, ts, price, bid, ask]`, quotes null when absent (compact JSON). */
export type WireTick = [string, number, number, (number | null)?, (number | null)?];

export function toWire(t: Tick): WireTick {
  if (t.bid === undefined && t.ask === undefined) return [t.symbol, t.ts, t.price];
  return [t.symbol, t.ts, t.price, t.bid ?? null, t.ask ?? null];
}

export function fromWire(w: WireTick): Tick {
  const t: Tick = { symbol: w[0], ts: w[1], price: w[2] };
  if (w[3] !== undefined && w[3] !== null) t.bid = w[3];
  if (w[4] !== undefined && w[4] !== null) t.ask = w[4];
  return t;
}

/**
 * The data of a job on a shard queue. Every change to a shard's signals travels through its
 * queue, in order: registrations (from the intake worker), tick batches (from producers),
 * operations (from the signal-ops worker) and stale sweeps (from the scheduler).
 */
export type ShardJobData =
  | { kind: 'register'; signal: NormalizedSignal }
  /**
   * From the intake: the signals of one committed batch that belong to this shard, registered
   * in order as that many `register` jobs would be, in one job and one checkpoint.
   */
  | { kind: 'register-batch'; signals: NormalizedSignal[] }
  | { kind: 'ticks'; ticks: WireTick[] }
  | { kind: 'op'; op: Operation }
  | { kind: 'sweep'; clock: number; graceMs: number }
  /** From the flusher: these closed signals' outcomes are committed; their ledger entries may go. */
  | { kind: 'forget'; ids: string[] };

/** How much of a poison job's reason is kept (it is logged and stored per job). */
const MAX_REASON = 1000;
/**
 * The most signals a `register-batch` job may carry (the intake splits a larger batch's share
 * of a shard): it keeps one job's checkpoint, and a poison record of it, bounded.
 */
export const MAX_BATCH_SIGNALS = 1000;

/**
 * Whether `data` has the shape of a shard job. Shard queues are public (docs/QUEUES.md), so
 * anything may arrive; a job that fails this is recorded as poison and skipped, never retried.
 * A registration must carry a signal that validation accepts, and an operation one that the
 * signal-ops contract accepts: the intake forwards nothing else, and a foreign producer's
 * half-formed signal (a take-profit at NaN, a negative stop) would otherwise be tracked.
 * (Ticks are checked one by one when applied: a bad tick does not spoil its batch.)
 */
export function checkShardJob(
  data: unknown,
): { ok: true; data: ShardJobData } | { ok: false; reason: string } {
  const bad = (reason: string) => ({ ok: false as const, reason });
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    return bad('job data must be a JSON object with a "kind"');
  const d = data as Record<string, unknown>;
  const obj = (x: unknown): Record<string, unknown> | null =>
    typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : null;
  switch (d.kind) {
    case 'ticks':
      return Array.isArray(d.ticks)
        ? { ok: true, data: data as ShardJobData }
        : bad('ticks: must be an array');
    case 'register': {
      const problem = checkRegistration(d.signal, 'signal');
      return problem === null ? { ok: true, data: data as ShardJobData } : bad(problem);
    }
    case 'register-batch': {
      if (!Array.isArray(d.signals) || d.signals.length === 0)
        return bad('signals: must be a non-empty array of normalized signals');
      if (d.signals.length > MAX_BATCH_SIGNALS)
        return bad(`signals: at most ${MAX_BATCH_SIGNALS} a job (got ${d.signals.length})`);
      // Every bad one named: the job is refused whole, as one bad register job would be.
      const problems = d.signals
        .map((s, i) => checkRegistration(s, `signals[${i}]`))
        .filter((p) => p !== null);
      return problems.length === 0
        ? { ok: true, data: data as ShardJobData }
        : bad(abbreviate(problems.join('; '), MAX_REASON));
    }
    case 'op': {
      const op = obj(d.op);
      if (op === null) return bad('op: must be an object (an operation)');
      if (typeof op.id !== 'string' || typeof op.op !== 'string' || !Number.isSafeInteger(op.ts))
        return bad('op: needs a string "id", a string "op" and an integer "ts"');
      const unstorable = checkStorable(op);
      if (unstorable.length > 0) return bad(abbreviate(`op: ${unstorable.join('; ')}`, MAX_REASON));
      const valid = validateOperation(op);
      return valid.ok
        ? { ok: true, data: data as ShardJobData }
        : bad(abbreviate(`op: not a valid operation: ${describeErrors(valid.errors)}`, MAX_REASON));
    }
    case 'sweep':
      return Number.isFinite(d.clock) && Number.isFinite(d.graceMs)
        ? { ok: true, data: data as ShardJobData }
        : bad('sweep: needs numbers "clock" and "graceMs"');
    case 'forget':
      return Array.isArray(d.ids) && d.ids.every((id) => typeof id === 'string')
        ? { ok: true, data: data as ShardJobData }
        : bad('forget: "ids" must be an array of strings');
    default:
      return bad(`unknown job kind ${abbreviate(JSON.stringify(d.kind) ?? 'undefined', 100)}`);
  }
}

/**
 * Why `x`, at `at` in a registration job, is not a signal a shard may track, or null. A
 * registration must carry a signal that validation accepts: the intake forwards nothing else,
 * and a foreign producer's half-formed signal (a take-profit at NaN, a negative stop) would
 * otherwise be tracked.
 */
function checkRegistration(x: unknown, at: string): string | null {
  if (typeof x !== 'object' || x === null || Array.isArray(x))
    return `${at}: must be an object (a normalized signal)`;
  const s = x as Record<string, unknown>;
  const problems = [
    typeof s.id === 'string' && s.id !== '' ? null : `${at}.id: must be a non-empty string`,
    typeof s.symbol === 'string' && s.symbol !== '' ? null : `${at}.symbol: must be a non-empty string`,
    s.side === 'long' || s.side === 'short' ? null : `${at}.side: must be "long" or "short"`,
    Number.isSafeInteger(s.createdAt) ? null : `${at}.createdAt: must be an integer`,
    typeof s.entry === 'object' && s.entry !== null && !Array.isArray(s.entry)
      ? null
      : `${at}.entry: must be an object`,
  ].filter((p) => p !== null);
  if (problems.length > 0) return problems.join('; ');
  // What the intake refuses as unstorable (a NUL, a lone surrogate, deep nesting) PostgreSQL
  // would refuse when the flusher writes the outcome: refused here, as the intake does.
  const unstorable = checkStorable(s);
  if (unstorable.length > 0) return abbreviate(`${at}: ${unstorable.join('; ')}`, MAX_REASON);
  const valid = validateSignal(s);
  return valid.ok
    ? null
    : abbreviate(`${at}: not a valid signal: ${describeErrors(valid.errors)}`, MAX_REASON);
}

/**
 * The registration jobs for one shard of `signals` (in their order): a `register-batch` job for
 * every `perJob` of them (at most MAX_BATCH_SIGNALS), a plain `register` job for one left
 * alone. The name carries the ids so that Bull Board shows whose job it is; nothing dispatches
 * on names (the shard reads `kind`).
 */
export function registrationJobs(
  signals: readonly NormalizedSignal[],
  perJob = MAX_BATCH_SIGNALS,
): { name: string; data: ShardJobData }[] {
  const size = Math.max(1, Math.min(perJob, MAX_BATCH_SIGNALS));
  const jobs: { name: string; data: ShardJobData }[] = [];
  for (let i = 0; i < signals.length; i += size) {
    const part = signals.slice(i, i + size);
    jobs.push(
      part.length === 1
        ? { name: JOB_NAMES.register(part[0]!.id), data: { kind: 'register', signal: part[0]! } }
        : {
            name: JOB_NAMES.registerBatch(part.map((s) => s.id)),
            data: { kind: 'register-batch', signals: part },
          },
    );
  }
  return jobs;
}

/** The ids whose registration state a job needs, looked up before it is applied. */
export function idsOf(data: ShardJobData): string[] {
  if (data.kind === 'register') return [data.signal.id];
  if (data.kind === 'register-batch') return data.signals.map((s) => s.id);
  if (data.kind === 'op') return [data.op.id];
  if (data.kind === 'forget') return data.ids;
  return [];
}

/** One open signal in Redis: XState's persisted `{ value, context }` and the tick number of its last event. */
export interface CheckpointRecord {
  value: Phase;
  context: SignalContext;
  sync: number;
}

/** The outbox key of an entry: the same event always gets the same key. */
export function outboxKey(entry: OutboxEntry, jobId: string, index: number): string {
  switch (entry.kind) {
    case 'closed':
      return OUTBOX_KEYS.closed(entry.outcome.id);
    case 'op':
      return OUTBOX_KEYS.op(jobId);
    case 'catchup_gap':
      return OUTBOX_KEYS.gap(entry.id, jobId, index);
    case 'event':
      return OUTBOX_KEYS.event(entry.id, eventWhat(entry));
  }
}

/** What an event entry's key names: the fill, leg `n`, or a stop move at a time, kind and level. */
function eventWhat(entry: Extract<OutboxEntry, { kind: 'event' }>): string {
  switch (entry.type) {
    case 'signal.filled':
      return 'filled';
    case 'signal.leg':
      return `leg:${String(entry.data.index)}`;
    case 'signal.stop_moved':
      return `stop:${entry.ts}:${String(entry.data.stopKind)}:${String(entry.data.stop)}`;
  }
}

/** What one job changed, to be written to Redis in one atomic step. */
export interface ShardDelta {
  /** Open signals to (re)write: id → record. */
  set: Map<string, CheckpointRecord>;
  /** Signals that closed: their records go. */
  del: Set<string>;
  /** Registration ledger: id → "open" | "closed". */
  ids: Map<string, 'open' | 'closed'>;
  /** Closed ids whose outcomes PostgreSQL holds: their ledger entries go (if still "closed"). */
  forget: Set<string>;
  /** Symbols whose index clock goes into this checkpoint (SymbolBook.clockDue). */
  books: Map<string, BookClockDelta>;
  /** Every symbol that applied ticks: its tick count now (the clock in `books` may be older). */
  seqs: Map<string, number>;
  /** Ticks applied per symbol, appended to its recent buffer. */
  recent: Map<string, Tick[]>;
  outbox: Map<string, OutboxEntry>;
  /** Latest tick time applied by this job, if any. */
  lastTickTs: number | null;
  lateTicks: number;
  /** Ticks skipped as malformed (a producer bug): counted, never applied. */
  poisonTicks: number;
  /** Ticks skipped for a time too far ahead of the wall clock (MAX_CLOCK_SKEW_MS). */
  futureTicks: number;
  duplicates: number;
}
