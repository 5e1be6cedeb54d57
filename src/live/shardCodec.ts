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
  /** The market clock's tick time (the script adds the wall time), or null to leave it. */
  clock: number | null;
}

/** A delta ready for the checkpoint script. */
export interface EncodedDelta {
  /** Symbols whose recent ticks grow (their keys follow the fixed ones). */
  symbols: string[];
  /** Per symbol of `symbols`, in that order: its new ticks packed ({@link shardCodec.packTicks}). */
  recent: Buffer[];
  payload: CheckpointPayload;
}

/** Bytes of one packed recent tick: ts, price, bid, ask as little-endian Float64. */
export const RECENT_TICK_BYTES = 32;

/** Whether this platform's typed arrays are little-endian (every platform Node runs on today). */
const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

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
 * text, except the ledger's and the progress markers' plain strings and the packed recent ticks:
 *
 * - signals hash: id → `CheckpointRecord` (XState's persisted `{ value, context }` and `sync`,
 *   the tick number of the signal's last event);
 * - books hash: symbol → `BookClock` (the index's tick count, clock and extrema);
 * - recent ticks: one binary string per symbol, {@link RECENT_TICK_BYTES} per tick (`packTicks`);
 *   the previous version kept a list of `WireTick` JSON (`[symbol, ts, price, bid?, ask?]`) per
 *   symbol instead, still read (`decodeRecentTick`), in front of the string, until the checkpoint deletes it;
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

  /**
   * Ticks of one symbol as its recent-ticks string holds them: fixed-width records of four
   * little-endian Float64 (ts, price, bid, ask; NaN for a missing quote), so a job's ticks are
   * one APPEND and the script can trim by byte offset. Exact: a tick's numbers are doubles.
   */
  packTicks(ticks: readonly Tick[]): Buffer {
    const n = ticks.length;
    if (LITTLE_ENDIAN) {
      const f = new Float64Array(n * 4);
      for (let i = 0, j = 0; i < n; i++, j += 4) {
        const t = ticks[i]!;
        f[j] = t.ts;
        f[j + 1] = t.price;
        f[j + 2] = t.bid ?? NaN;
        f[j + 3] = t.ask ?? NaN;
      }
      return Buffer.from(f.buffer, f.byteOffset, f.byteLength);
    }
    const b = Buffer.allocUnsafe(n * RECENT_TICK_BYTES);
    for (let i = 0, o = 0; i < n; i++, o += RECENT_TICK_BYTES) {
      const t = ticks[i]!;
      b.writeDoubleLE(t.ts, o);
      b.writeDoubleLE(t.price, o + 8);
      b.writeDoubleLE(t.bid ?? NaN, o + 16);
      b.writeDoubleLE(t.ask ?? NaN, o + 24);
    }
    return b;
  },
  /** `symbol`'s ticks from packed bytes (`packTicks`), oldest first; a trailing partial record is ignored. */
  unpackTicks(bytes: Uint8Array, symbol: string): Tick[] {
    const n = Math.floor(bytes.byteLength / RECENT_TICK_BYTES);
    const view = new DataView(bytes.buffer, bytes.byteOffset, n * RECENT_TICK_BYTES);
    const out: Tick[] = new Array<Tick>(n);
    for (let i = 0, o = 0; i < n; i++, o += RECENT_TICK_BYTES) {
      const tick: Tick = { symbol, ts: view.getFloat64(o, true), price: view.getFloat64(o + 8, true) };
      const bid = view.getFloat64(o + 16, true);
      const ask = view.getFloat64(o + 24, true);
      if (!Number.isNaN(bid)) tick.bid = bid;
      if (!Number.isNaN(ask)) tick.ask = ask;
      out[i] = tick;
    }
    return out;
  },

  /**
   * An entry of the previous version's recent-ticks list: the tick in its wire form (as
   * producers send it). Written no more; the encoder stays for tests of the change-over.
   */
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
      recent: symbols.map((s) => shardCodec.packTicks(delta.recent.get(s)!)),
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
        clock: delta.lastTickTs,
      },
    };
  },
};
