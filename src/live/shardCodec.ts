import type { Tick } from '../../machines/types.ts';
import type { BookClock } from '../engine/SymbolBook.ts';
import { isBullmqJobId } from '../names.ts';
import type { OutboxEntry } from '../storage/OutboxEntry.ts';
import { fromWire, toWire, type CheckpointRecord, type WireTick } from './messages.ts';
import type { ShardDelta } from './ShardRuntime.ts';

/**
 * The checkpoint script's argument (JSON): a job's delta with every value already encoded, so
 * that the script stores the strings as they are.
 */
export interface CheckpointPayload {
  /** Open signals: [id, encoded record]. */
  set: [string, string][];
  /** Signals that closed: their records go. */
  del: string[];
  /** Registration ledger entries: [id, "open" | "closed"]. */
  ids: [string, LedgerState][];
  /** Ledger entries to remove if still "closed". */
  forget: string[];
  /** Index clocks: [symbol, encoded clock]. */
  books: [string, string][];
  /** Outbox: [entry key, encoded entry]. */
  outbox: [string, string][];
  /** Per symbol of `EncodedDelta.symbols`, in that order: encoded ticks to append to its recent list. */
  recent: string[][];
  /** The market clock's tick time (the script adds the wall time), or null to leave it. */
  clock: number | null;
}

/** A delta ready for the checkpoint script. */
export interface EncodedDelta {
  /** Symbols whose recent lists grow, in the order of `payload.recent` (their keys follow the fixed ones). */
  symbols: string[];
  payload: CheckpointPayload;
}

/** A registration ledger value: the ledger remembers every id registered on the shard. */
export type LedgerState = 'open' | 'closed';

/** The market clock value of a shard: the latest tick time applied and the wall time it was. */
export interface MarketClockValue {
  tickTs: number;
  wallMs: number;
}

/** Which jobs a shard has applied, as its three progress keys hold them. */
export interface AppliedJobs {
  appliedJob: string | null;
  appliedAuto: string | null;
  appliedCustom: string[];
}

/**
 * The one format of everything a shard stores in Redis (pure: no I/O). `shardStore` reads and
 * writes the keys; this module turns their values into memory and back. Every value is JSON
 * text, except the ledger's and the progress markers' plain strings:
 *
 * - signals hash: id → `CheckpointRecord` (XState's persisted `{ value, context }` and `sync`,
 *   the tick number of the signal's last event);
 * - books hash: symbol → `BookClock` (the index's tick count, clock and extrema);
 * - recent lists: one `WireTick` (`[symbol, ts, price, bid?, ask?]`) per entry;
 * - outbox hash: entry key → `OutboxEntry`;
 * - clock: `{ tickTs, wallMs }` (written by the checkpoint script, which adds the wall time).
 *
 * Changing a format here changes what existing Redis data means: keep each decoder reading
 * what the previous encoder wrote.
 */
export const shardCodec = {
  encodeRecord(record: CheckpointRecord): string {
    return JSON.stringify(record);
  },
  decodeRecord(text: string): CheckpointRecord {
    return JSON.parse(text) as CheckpointRecord;
  },

  encodeBookClock(clock: BookClock): string {
    return JSON.stringify(clock);
  },
  decodeBookClock(text: string): BookClock {
    return JSON.parse(text) as BookClock;
  },

  /** A recent-ticks list entry: the tick in its wire form (as producers send it). */
  encodeRecentTick(tick: Tick): string {
    return JSON.stringify(toWire(tick));
  },
  decodeRecentTick(text: string): Tick {
    return fromWire(JSON.parse(text) as WireTick);
  },

  encodeOutboxEntry(entry: OutboxEntry): string {
    return JSON.stringify(entry);
  },
  decodeOutboxEntry(text: string): OutboxEntry {
    return JSON.parse(text) as OutboxEntry;
  },

  /** The ledger value of an id, or undefined when it is none (never registered here). */
  decodeLedger(value: string | null | undefined): LedgerState | undefined {
    return value === 'open' || value === 'closed' ? value : undefined;
  },

  decodeMarketClock(text: string): MarketClockValue {
    return JSON.parse(text) as MarketClockValue;
  },

  /**
   * The applied jobs of a shard from its progress, applied-auto and applied-custom keys. A
   * shard checkpointed before applied-auto existed has only the marker, always a BullMQ id.
   */
  decodeProgress(progress: string | null, appliedAuto: string | null, appliedCustom: string[]): AppliedJobs {
    return {
      appliedJob: progress,
      appliedAuto: appliedAuto ?? (progress !== null && isBullmqJobId(progress) ? progress : null),
      appliedCustom,
    };
  },

  /**
   * A job's delta as the checkpoint script takes it; closed outcomes are stamped with
   * `wallMs`, the time of their checkpoint, when given (for the close-to-commit metric).
   */
  encodeDelta(delta: ShardDelta, wallMs?: number): EncodedDelta {
    const symbols = [...delta.recent.keys()];
    return {
      symbols,
      payload: {
        set: [...delta.set].map(([id, record]) => [id, shardCodec.encodeRecord(record)]),
        del: [...delta.del],
        ids: [...delta.ids],
        forget: [...delta.forget],
        books: [...delta.books].map(([symbol, clock]) => [symbol, shardCodec.encodeBookClock(clock)]),
        outbox: [...delta.outbox].map(([key, entry]) => [
          key,
          shardCodec.encodeOutboxEntry(
            entry.kind === 'closed' && wallMs !== undefined ? { ...entry, closedWallMs: wallMs } : entry,
          ),
        ]),
        recent: symbols.map((s) => delta.recent.get(s)!.map((t) => shardCodec.encodeRecentTick(t))),
        clock: delta.lastTickTs,
      },
    };
  },
};
