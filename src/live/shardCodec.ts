import type { SignalContext } from '../../machines/signalContext.ts';
import type { Tick } from '../../machines/types.ts';
import { timeDeadline } from '../../machines/sweep.ts';
import { SERIES } from '../../machines/triggerPrice.ts';
import { watchOf, type Watch } from '../../machines/watch.ts';
import type { BookClock, BookClockDelta, DeferredSignal } from '../engine/SymbolBook.ts';
import type { ExtremaState } from '../engine/ExtremaLog.ts';
import { isBullmqJobId, signalBucketOf } from '../names.ts';
import type { OutboxEntry } from '../storage/OutboxEntry.ts';
import { fromWire, toWire, type CheckpointRecord, type ShardDelta, type WireTick } from './messages.ts';

/**
 * The checkpoint script's argument (JSON): a job's delta with every value already encoded, so
 * that the script stores the strings as they are.
 */
export interface CheckpointPayload {
  /** Open signals: [id, encoded record, its bucket (`signalBucketOf`)]. */
  set: [string, string, number][];
  /** Signals that closed, [id, its bucket]: their records go. */
  del: [string, number][];
  /** The buckets of `set` and `del`, each once, ascending: the order of their keys (the last ones). */
  buckets: number[];
  /** Registration ledger entries: [id, "open" | "closed"]. */
  ids: [string, LedgerState][];
  /** Ledger entries to remove if still "closed". */
  forget: string[];
  /** Index clocks: [symbol, encoded clock]. */
  books: [string, string][];
  /** Tick counts: [symbol, count as decimal text] of every symbol that applied ticks. */
  seqs: [string, string][];
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
  /** Extrema stack writes: the entries from `offset` (bytes) on, packed ({@link shardCodec.packStack}). */
  stacks: StackWrite[];
  payload: CheckpointPayload;
}

/** One of a book's extrema stacks: of series `series` (SERIES order), its maxima or minima. */
export interface StackRef {
  series: number;
  kind: 'max' | 'min';
}

/** Part of a stack's string to overwrite: `bytes` at byte `offset` (Redis SETRANGE). */
export interface StackWrite extends StackRef {
  symbol: string;
  offset: number;
  bytes: Buffer;
}

/** Bytes of one packed recent tick: ts, price, bid, ask as little-endian Float64. */
export const RECENT_TICK_BYTES = 32;
/** Bytes of one packed extrema stack entry: tick number, value as little-endian Float64. */
export const STACK_ENTRY_BYTES = 16;

/** A book clock as the books hash holds it: each tracked series' stack lengths [max, min]. */
interface StoredClock {
  seq: number;
  lastTs: number | null;
  lastValue: number[];
  /** Written before the stacks had their own strings: the whole stacks, inline. */
  extrema?: (ExtremaState | null)[];
  stacks?: ([number, number] | null)[];
}

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
 * Marks (first element) the compact record form: `[1, sync, ...the context's fields in the
 * order of compactRecord]`, optionally followed by the signal's index entries
 * ({@link IndexEntries}). The state value is not stored: it is always the context's phase
 * (persistSignal). A new context field needs a new mark (the element after the fields is the
 * entries'); the decoder keeps reading every mark written before.
 */
const RECORD_FORM = 1;

/** A checkpoint record as the compact form's JSON array holds it. */
type CompactRecord = [typeof RECORD_FORM, number, ...unknown[]];

/**
 * Versions the index entries. They are derived from the context (`watchOf`, `timeDeadline`),
 * so a change to either needs a new version: entries of another version are ignored and their
 * record decoded in full.
 */
const ENTRIES_VERSION = 1;

/**
 * The entries of a signal with an active trailing stop: version 1's and three more values
 * (since 2026-12-04). A worker that reads version 1 only decodes such a record in full, as it
 * did every trailing record before.
 */
const ENTRIES_TRAIL_VERSION = 2;

/**
 * A signal's index entries, the last element of its compact record when present: `[version,
 * series, below, above, at, every, tracksExtremes, deadline]`, its `watchOf` (the series as
 * 0–3; below −Infinity, above and at +Infinity as null) and `timeDeadline`; with an active
 * trailing stop, version 2 and its `watchOf` trail after them: `dir, peak, factor`. With them a
 * take-over files the signal without decoding it ({@link DeferredSignal}). They hold only
 * numbers, so they open at the record's last `[`; the last context field (`stale`) is never an
 * array, so a record ends in `]]` exactly when it has them. Readers of the previous version
 * ignore the extra element.
 */
type IndexEntries =
  | [typeof ENTRIES_VERSION, number, number | null, number | null, number | null, 0 | 1, 0 | 1, number | null]
  | [
      typeof ENTRIES_TRAIL_VERSION,
      number,
      number | null,
      number | null,
      number | null,
      0 | 1,
      0 | 1,
      number | null,
      1 | -1,
      number,
      number,
    ];

/** The index entries of an open context, or null when it is filed from its context only. */
function indexEntries(c: SignalContext): IndexEntries | null {
  if (c.phase === 'closed') return null;
  const w = watchOf(c);
  // A threshold or deadline that overflowed to the other infinity (or NaN) has no null to stand
  // for it; nor has a trailing stop without a peak (a checkpoint from before v1.1).
  const deadline = timeDeadline(c);
  if (!(w.below === -Infinity || Number.isFinite(w.below))) return null;
  if (!(w.above === Infinity || Number.isFinite(w.above))) return null;
  if (!(w.at === Infinity || Number.isFinite(w.at))) return null;
  if (deadline !== null && !Number.isFinite(deadline)) return null;
  const series = SERIES.indexOf(w.series);
  const below = finiteOrNull(w.below);
  const above = finiteOrNull(w.above);
  const at = finiteOrNull(w.at);
  const every = w.every ? 1 : 0;
  const tracks = w.tracksExtremes ? 1 : 0;
  const { trail } = w;
  if (trail === null) return [ENTRIES_VERSION, series, below, above, at, every, tracks, deadline];
  if (trail.peak === null || !Number.isFinite(trail.peak) || !Number.isFinite(trail.factor)) return null;
  return [
    ENTRIES_TRAIL_VERSION,
    series,
    below,
    above,
    at,
    every,
    tracks,
    deadline,
    trail.dir,
    trail.peak,
    trail.factor,
  ];
}

/*
 * Why an array: a record is about 45 fields of short values, and their names were most of its
 * 831 bytes; recovery parses a million of them (docs/BENCHMARKS.md). Same values, same JSON,
 * about 320 bytes.
 */
function compactRecord(record: CheckpointRecord): unknown[] {
  const c = record.context;
  return [
    RECORD_FORM,
    record.sync,
    c.id,
    c.symbol,
    c.dir,
    c.entryType,
    c.entryPrice,
    c.tpPrices,
    c.tpFractions,
    c.tpFilled,
    c.stop,
    c.stopKind,
    c.breakevenAfterTp,
    c.breakevenOffsetBps,
    c.trailDistanceBps,
    c.trailActivation,
    c.entryExpiresAt,
    c.timeLimitMs,
    c.toleranceBps,
    c.confirmMs,
    c.trigger,
    c.stopFill,
    c.feeBps,
    c.slippageBps,
    c.roiAfterMs,
    c.roiReturnBps,
    c.roiStage,
    c.notional,
    c.createdAt,
    c.phase,
    c.seen,
    c.fill,
    c.initialStop,
    c.legs,
    c.remaining,
    c.hi,
    c.lo,
    c.lastP,
    c.trailActive,
    c.peak,
    c.armStop,
    c.armTp,
    c.outcome,
    c.closedAt,
    c.stale,
  ];
}

/**
 * A deferred signal's record that does not decode (a corrupt or hand-edited record): raised
 * when the signal is first needed, it fails that job as a failed load of the shard would
 * (retried, the shard waits), instead of poisoning the job.
 */
export class UnreadableRecordError extends Error {
  constructor(text: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`checkpoint record ${JSON.stringify(text.slice(0, 80))}… cannot be decoded: ${reason}`);
    this.name = 'UnreadableRecordError';
  }
}

/**
 * The index of the closing quote of the JSON string that opens at `from`, or -1 when no string
 * opens there. A backslash escapes the character after it (a `\\uXXXX` escape's digits are no
 * quote), so the first unescaped quote ends the string.
 */
function stringEnd(text: string, from: number): number {
  if (text.charCodeAt(from) !== 34) return -1;
  for (let i = from + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 34) return i;
  }
  return -1;
}

/**
 * The JSON string from the quote at `from` to the one at `to`, unescaped, in a string of its
 * own: V8 makes a longer slice a view of the whole record, which would keep the record's text
 * alive as long as the id (an engine key) after the signal is decoded.
 */
function stringAt(text: string, from: number, to: number): string {
  if (to - from - 1 < 13) {
    const raw = text.slice(from + 1, to);
    if (!raw.includes('\\')) return raw; // short slices are copies
  }
  return JSON.parse(text.slice(from, to + 1)) as string;
}

/** The count of values in a record's index entries: version 1's, and with a trailing stop's. */
const ENTRIES_LENGTH = 8;
const ENTRIES_TRAIL_LENGTH = 11;

/**
 * The values of the index entries {@link readEntries} read last (NaN for a JSON null): one
 * array for every record, because a take-over reads a million of them, and an array and a
 * string a value for each were about 8 % of filing them (docs/BENCHMARKS.md, "numbers read in
 * place").
 */
const entryValues = new Float64Array(ENTRIES_TRAIL_LENGTH);

/**
 * Reads the comma-separated JSON numbers and nulls from `from` to `to` (inclusive) into
 * {@link entryValues}; false when their count is not the one their version has (the first
 * value) or one is neither a JSON number nor null (the record is then decoded in full).
 */
function readEntries(text: string, from: number, to: number): boolean {
  let n = 0;
  for (let start = from; start <= to;) {
    let end = text.indexOf(',', start);
    if (end < 0 || end > to) end = to + 1;
    if (n === ENTRIES_TRAIL_LENGTH) return false;
    if (end - start === 4 && text.startsWith('null', start)) entryValues[n++] = NaN;
    else {
      const value = jsonNumberIn(text, start, end);
      if (Number.isNaN(value)) return false;
      entryValues[n++] = value;
    }
    start = end + 1;
  }
  if (entryValues[0] === ENTRIES_VERSION) return n === ENTRIES_LENGTH;
  return entryValues[0] === ENTRIES_TRAIL_VERSION && n === ENTRIES_TRAIL_LENGTH;
}

/** Exact powers of ten: every one up to 1e22 is a double. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * The JSON number from `start` to `end` (exclusive), NaN when it is none. Without building a
 * string for it: a plain decimal of at most 15 digits and 22 after the point is its digits as an
 * integer divided by a power of ten, both exact doubles, so the one rounding of the division
 * gives the nearest double, as `Number` does; anything else (an exponent, more digits) is
 * read by `Number` itself.
 */
function jsonNumberIn(text: string, start: number, end: number): number {
  let i = start;
  const negative = text.charCodeAt(i) === 45; // '-'
  if (negative) i++;
  let digits = 0;
  let mantissa = 0;
  let point = -1;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 1 && mantissa === 0 && point < 0) return NaN; // a leading zero: no JSON
      mantissa = mantissa * 10 + (c - 48);
      digits++;
    } else if (c === 46 && point < 0 && digits > 0)
      point = digits; // '.'
    else return generalNumber(text, start, end);
  }
  const decimals = point < 0 ? 0 : digits - point;
  if (digits === 0 || (point >= 0 && decimals === 0)) return NaN;
  if (digits > 15 || decimals > 22) return generalNumber(text, start, end);
  const magnitude = decimals === 0 ? mantissa : mantissa / POW10[decimals]!;
  return negative ? -magnitude : magnitude;
}

/** A JSON number the fast path does not take (NaN when it is no JSON number at all). */
function generalNumber(text: string, start: number, end: number): number {
  const raw = text.slice(start, end);
  return JSON_NUMBER.test(raw) ? Number(raw) : NaN;
}

const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/**
 * A compact record's value, typed never so that it takes its field's type: the compiler still
 * checks that expandRecord sets every field of SignalContext, and no other.
 */
function at(a: CompactRecord, i: number): never {
  return a[i] as never;
}

function expandRecord(a: CompactRecord): CheckpointRecord {
  if (a[0] !== RECORD_FORM) throw new Error(`checkpoint record of an unknown form ${String(a[0])}`);
  const context: SignalContext = {
    id: at(a, 2),
    symbol: at(a, 3),
    dir: at(a, 4),
    entryType: at(a, 5),
    entryPrice: at(a, 6),
    tpPrices: at(a, 7),
    tpFractions: at(a, 8),
    tpFilled: at(a, 9),
    stop: at(a, 10),
    stopKind: at(a, 11),
    breakevenAfterTp: at(a, 12),
    breakevenOffsetBps: at(a, 13),
    trailDistanceBps: at(a, 14),
    trailActivation: at(a, 15),
    entryExpiresAt: at(a, 16),
    timeLimitMs: at(a, 17),
    toleranceBps: at(a, 18),
    confirmMs: at(a, 19),
    trigger: at(a, 20),
    stopFill: at(a, 21),
    feeBps: at(a, 22),
    slippageBps: at(a, 23),
    roiAfterMs: at(a, 24),
    roiReturnBps: at(a, 25),
    roiStage: at(a, 26),
    notional: at(a, 27),
    createdAt: at(a, 28),
    phase: at(a, 29),
    seen: at(a, 30),
    fill: at(a, 31),
    initialStop: at(a, 32),
    legs: at(a, 33),
    remaining: at(a, 34),
    hi: at(a, 35),
    lo: at(a, 36),
    lastP: at(a, 37),
    trailActive: at(a, 38),
    peak: at(a, 39),
    armStop: at(a, 40),
    armTp: at(a, 41),
    outcome: at(a, 42),
    closedAt: at(a, 43),
    stale: at(a, 44),
  };
  return { value: context.phase, context, sync: a[1] };
}

/** The buckets of a payload's records written and deleted, each once, ascending. */
function bucketsOf(set: CheckpointPayload['set'], del: CheckpointPayload['del']): number[] {
  const buckets = new Set<number>();
  for (const [, , bucket] of set) buckets.add(bucket);
  for (const [, bucket] of del) buckets.add(bucket);
  return [...buckets].sort((a, b) => a - b);
}

/**
 * The one format of everything a shard stores in Redis (pure: no I/O). `shardStore` reads and
 * writes the keys; this module turns their values into memory and back. Every value is JSON
 * text, except the ledger's and the progress markers' plain strings and the packed recent ticks:
 *
 * - signal buckets (`signalBucketOf` the id; before them one signals hash a shard, still read):
 *   id → `CheckpointRecord` (XState's persisted `{ value, context }` and `sync`,
 *   the tick number of the signal's last event), as a compact array (`RECORD_FORM`, ending
 *   in the signal's `IndexEntries` when it has them, which `restoreRecord` files without
 *   decoding) or, as written before it and still for contexts older than v1.2, that object;
 * - books hash: symbol → the index's tick count, clock and extrema stack lengths
 *   (`encodeBookClock`), written every so many ticks of the symbol; clocks written before the
 *   stack strings hold the stacks inline;
 * - book-seqs hash: symbol → its tick count at the last commit (decimal text): the ticks since
 *   its clock are the last ones of its recent ticks (`advanceClock`);
 * - extrema stacks: one binary string per symbol, series and side (max or min),
 *   {@link STACK_ENTRY_BYTES} per entry (`packStack`), overwritten from the first entry a job
 *   changed (SETRANGE); only the clock's length of it counts;
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
  /**
   * A checkpoint record in its compact form (an array, see {@link RECORD_FORM}, with the
   * signal's {@link IndexEntries} when it has them); a context
   * without the v1.2 fields (restored from a checkpoint older than v1.2, SPEC.md: evaluated as
   * in v1.1) keeps the object form, whose absent fields the array could not tell from null.
   */
  encodeRecord(record: CheckpointRecord): string {
    const c = record.context;
    if (
      c.slippageBps === undefined ||
      c.roiAfterMs === undefined ||
      c.roiReturnBps === undefined ||
      c.roiStage === undefined ||
      c.notional === undefined
    )
      return JSON.stringify(record);
    const a = compactRecord(record);
    const entries = indexEntries(c);
    if (entries !== null) a.push(entries);
    return JSON.stringify(a);
  },
  /**
   * A record as a take-over files it: deferred (its id, symbol, tick number and index entries
   * read from the text alone) when it was written with its index entries, else decoded.
   * `field`: the record's field in the signals hash (its id), which spares a copy of the id.
   */
  restoreRecord(text: string, field?: string): CheckpointRecord | DeferredSignal {
    if (!text.startsWith('[1,') || !text.endsWith(']]')) return shardCodec.decodeRecord(text);
    // `[1,sync,"id","symbol",…,[entries]]`: read without parsing the rest (most of a take-over).
    const syncEnd = text.indexOf(',', 3);
    const idEnd = stringEnd(text, syncEnd + 1);
    const symbolEnd = idEnd < 0 ? -1 : stringEnd(text, idEnd + 2);
    const open = text.lastIndexOf('[', text.length - 2);
    const sync = jsonNumberIn(text, 3, syncEnd);
    if (symbolEnd < 0 || open <= symbolEnd || Number.isNaN(sync)) return shardCodec.decodeRecord(text);
    // Entries of another version, or not numbers where numbers belong (a record edited by
    // hand): the context decides.
    if (!readEntries(text, open + 1, text.length - 3)) return shardCodec.decodeRecord(text);
    const series = SERIES[entryValues[1]!];
    if (series === undefined) return shardCodec.decodeRecord(text);
    // NaN stands for null: below −Infinity, above and at +Infinity, no deadline.
    const below = entryValues[2]!;
    const above = entryValues[3]!;
    const at = entryValues[4]!;
    const deadline = entryValues[7]!;
    const watch: Watch = {
      series,
      below: Number.isNaN(below) ? -Infinity : below,
      above: Number.isNaN(above) ? Infinity : above,
      at: Number.isNaN(at) ? Infinity : at,
      every: entryValues[5] === 1,
      trail: null,
      tracksExtremes: entryValues[6] === 1,
    };
    if (entryValues[0] === ENTRIES_TRAIL_VERSION) {
      const dir = entryValues[8];
      const peak = entryValues[9]!;
      const factor = entryValues[10]!;
      if ((dir !== 1 && dir !== -1) || Number.isNaN(peak) || Number.isNaN(factor))
        return shardCodec.decodeRecord(text);
      watch.trail = { peak, factor, dir };
    }
    return {
      // The hash field is the id: taken as it is when the text spells it without escapes.
      id:
        field !== undefined && idEnd === syncEnd + 2 + field.length && text.startsWith(field, syncEnd + 2)
          ? field
          : stringAt(text, syncEnd + 1, idEnd),
      symbol: stringAt(text, idEnd + 2, symbolEnd),
      sync,
      text,
      watch,
      deadline: Number.isNaN(deadline) ? null : deadline,
    };
  },
  /** Either form: the compact array, or the `{ value, context, sync }` JSON of earlier versions. */
  decodeRecord(text: string): CheckpointRecord {
    const parsed = JSON.parse(text) as CheckpointRecord | CompactRecord;
    return Array.isArray(parsed) ? expandRecord(parsed) : parsed;
  },

  /**
   * A book's clock for the books hash: tick count, time, last values and each tracked series'
   * stack lengths; the stacks' entries go to their own strings ({@link stackWrites}), so a job
   * writes what its ticks changed rather than the whole stacks.
   */
  encodeBookClock(clock: BookClockDelta): string {
    const stored: StoredClock = {
      seq: clock.seq,
      lastTs: clock.lastTs,
      lastValue: clock.lastValue,
      stacks: clock.extrema.map((t) =>
        t === null ? null : [t.maxFrom + t.maxSeq.length, t.minFrom + t.minSeq.length],
      ),
    };
    return JSON.stringify(stored);
  },
  /** The stack strings a stored clock needs beside it (none for a clock written with its stacks inline). */
  /** The tick count a stored clock was written at. */
  clockSeq(text: string): number {
    return (JSON.parse(text) as StoredClock).seq;
  },
  stacksOf(text: string): StackRef[] {
    const stored = JSON.parse(text) as StoredClock;
    const refs: StackRef[] = [];
    stored.stacks?.forEach((lengths, series) => {
      if (lengths !== null) refs.push({ series, kind: 'max' }, { series, kind: 'min' });
    });
    return refs;
  },
  /**
   * A stored clock with its stacks: inline (as written before the stack strings), or read from
   * the strings `stack` gives, of which the clock's lengths count (a string may run longer:
   * what is past the length was popped since).
   */
  decodeBookClock(
    text: string,
    stack: (ref: StackRef) => Uint8Array | null | undefined = () => null,
  ): BookClock {
    const stored = JSON.parse(text) as StoredClock;
    const clock = { seq: stored.seq, lastTs: stored.lastTs, lastValue: stored.lastValue };
    if (stored.stacks === undefined) return { ...clock, extrema: stored.extrema ?? [] };
    const read = (series: number, kind: 'max' | 'min', length: number): [number[], number[]] => {
      const bytes = stack({ series, kind }) ?? new Uint8Array(0);
      if (bytes.byteLength < length * STACK_ENTRY_BYTES)
        throw new Error(
          `extrema stack ${series}${kind} holds ${Math.floor(bytes.byteLength / STACK_ENTRY_BYTES)} entries, its clock counts ${length}`,
        );
      return shardCodec.unpackStack(bytes, length);
    };
    return {
      ...clock,
      extrema: stored.stacks.map((lengths, series) => {
        if (lengths === null) return null;
        const [maxSeq, maxVal] = read(series, 'max', lengths[0]);
        const [minSeq, minVal] = read(series, 'min', lengths[1]);
        return { maxSeq, maxVal, minSeq, minVal };
      }),
    };
  },
  /** The string writes a clock's stacks need: per tracked series, its max and min tails. */
  stackWrites(symbol: string, clock: BookClockDelta): StackWrite[] {
    const writes: StackWrite[] = [];
    clock.extrema.forEach((t, series) => {
      if (t === null) return;
      for (const [kind, from, seqs, values] of [
        ['max', t.maxFrom, t.maxSeq, t.maxVal],
        ['min', t.minFrom, t.minSeq, t.minVal],
      ] as const) {
        if (seqs.length > 0)
          writes.push({
            symbol,
            series,
            kind,
            offset: from * STACK_ENTRY_BYTES,
            bytes: shardCodec.packStack(seqs, values),
          });
      }
    });
    return writes;
  },
  /** Stack entries packed: {@link STACK_ENTRY_BYTES} each, tick number then value, little-endian Float64. */
  packStack(seqs: readonly number[], values: readonly number[]): Buffer {
    const n = seqs.length;
    const b = Buffer.allocUnsafe(n * STACK_ENTRY_BYTES);
    for (let i = 0, o = 0; i < n; i++, o += STACK_ENTRY_BYTES) {
      b.writeDoubleLE(seqs[i]!, o);
      b.writeDoubleLE(values[i]!, o + 8);
    }
    return b;
  },
  /** The first `length` entries of a packed stack: [tick numbers, values]. */
  unpackStack(bytes: Uint8Array, length: number): [number[], number[]] {
    const view = new DataView(bytes.buffer, bytes.byteOffset, length * STACK_ENTRY_BYTES);
    const seqs = new Array<number>(length);
    const values = new Array<number>(length);
    for (let i = 0, o = 0; i < length; i++, o += STACK_ENTRY_BYTES) {
      seqs[i] = view.getFloat64(o, true);
      values[i] = view.getFloat64(o + 8, true);
    }
    return [seqs, values];
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
    const set: CheckpointPayload['set'] = [...delta.set].map(([id, record]) => [
      id,
      shardCodec.encodeRecord(record),
      signalBucketOf(id),
    ]);
    const del: CheckpointPayload['del'] = [...delta.del].map((id) => [id, signalBucketOf(id)]);
    return {
      symbols,
      recent: symbols.map((s) => shardCodec.packTicks(delta.recent.get(s)!)),
      stacks: [...delta.books].flatMap(([symbol, clock]) => shardCodec.stackWrites(symbol, clock)),
      payload: {
        set,
        del,
        buckets: bucketsOf(set, del),
        ids: [...delta.ids],
        forget: [...delta.forget],
        books: [...delta.books].map(([symbol, clock]) => [symbol, shardCodec.encodeBookClock(clock)]),
        seqs: [...delta.seqs].map(([symbol, seq]) => [symbol, String(seq)]),
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

/** A finite number as itself, an infinity (an absent level) as null: JSON has no infinities. */
function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
