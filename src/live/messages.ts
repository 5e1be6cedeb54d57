import type { NormalizedSignal, Phase, SignalContext } from '../../machines/signalContext.ts';
import type { Operation, OutcomeLine, Tick } from '../../machines/types.ts';

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
  | { kind: 'ticks'; ticks: WireTick[] }
  | { kind: 'op'; op: Operation }
  | { kind: 'sweep'; clock: number; graceMs: number };

/** One open signal in Redis: XState's persisted `{ value, context }` and the tick number of its last event. */
export interface CheckpointRecord {
  value: Phase;
  context: SignalContext;
  sync: number;
}

/**
 * What a shard hands to the flusher through its outbox (a Redis hash, keyed so that writing
 * an entry twice is harmless). Entries leave only after PostgreSQL has committed them.
 */
export type OutboxEntry =
  | { kind: 'closed'; symbol: string; outcome: OutcomeLine }
  | { kind: 'op'; op: Operation; applied: boolean; errors: string[] }
  | {
      kind: 'catchup_gap';
      id: string;
      symbol: string;
      createdAt: number;
      /** Latest tick time that had already left the recent-tick buffer. */
      missedUpTo: number;
    };

/** The outbox key of an entry: the same event always gets the same key. */
export function outboxKey(entry: OutboxEntry, jobId: string, index: number): string {
  switch (entry.kind) {
    case 'closed':
      return `closed:${entry.outcome.id}`;
    case 'op':
      return `op:${jobId}`;
    case 'catchup_gap':
      return `gap:${entry.id}:${jobId}:${index}`;
  }
}
