/**
 * A shard's stored state without Redis, for unit tests: the values `shardCodec` encodes, kept
 * in maps as the checkpoint script keeps them in Redis keys, and decoded through the codec to
 * restore a runtime as `loadShard` does. So a test can take a runtime through the production
 * round trip (apply → delta → encode → commit → decode → `ShardRuntime.restore`) in memory.
 *
 * `commit` follows the checkpoint script of src/live/shardStore.ts step by step; the
 * integration tests (redis-restart, live-equals-replay) hold the script itself to the same.
 */
import { isBullmqJobId, isForwardedOpJobId } from '../../src/names.ts';
import type { Tick } from '../../machines/types.ts';
import type { OutboxEntry } from '../../src/storage/OutboxEntry.ts';
import type { BookClock } from '../../src/engine/SymbolBook.ts';
import { clockAt } from '../../src/live/shardStore.ts';
import { idsOf, type ShardDelta, type ShardJobData } from '../../src/live/messages.ts';
import { RECENT_TICK_BYTES, shardCodec, type EncodedDelta } from '../../src/live/shardCodec.ts';
import { APPLIED_CUSTOM_KEPT, ShardRuntime, type KnownIds } from '../../src/live/ShardRuntime.ts';

export class MemoryShardStore {
  progress: string | null = null;
  appliedAuto: string | null = null;
  appliedCustom: string[] = [];
  appliedOps: string[] = [];
  readonly signals = new Map<string, string>();
  readonly ids = new Map<string, string>();
  readonly books = new Map<string, string>();
  /** Per symbol: its tick count at the last commit (the book-seqs hash). */
  readonly seqs = new Map<string, string>();
  readonly outbox = new Map<string, string>();
  /** Per symbol: its packed recent ticks, as the recent-ticks string holds them. */
  readonly recent = new Map<string, Buffer>();
  /** Per symbol: the previous version's recent-ticks list (JSON wire ticks), until deleted. */
  readonly recentList = new Map<string, string[]>();
  /** Per symbol, series and side: its extrema stack string (only its clock's length counts). */
  readonly stacks = new Map<string, Buffer>();
  clock: string | null = null;

  constructor(private readonly bufferSize: number) {}

  /** An independent copy of everything stored. */
  copy(): MemoryShardStore {
    const c = new MemoryShardStore(this.bufferSize);
    c.progress = this.progress;
    c.appliedAuto = this.appliedAuto;
    c.appliedCustom = [...this.appliedCustom];
    c.appliedOps = [...this.appliedOps];
    for (const name of ['signals', 'ids', 'books', 'seqs', 'outbox'] as const)
      for (const [k, v] of this[name]) c[name].set(k, v);
    for (const [symbol, bytes] of this.recent) c.recent.set(symbol, Buffer.from(bytes));
    for (const [symbol, list] of this.recentList) c.recentList.set(symbol, [...list]);
    for (const [key, bytes] of this.stacks) c.stacks.set(key, Buffer.from(bytes));
    c.clock = this.clock;
    return c;
  }

  /** Commits an encoded delta if the marker is still `expected`; false (and nothing written) otherwise. */
  commit(expected: string | null, jobId: string, encoded: EncodedDelta, wallMs = 0): boolean {
    if ((this.progress ?? '') !== (expected ?? '')) return false;
    const d = encoded.payload;
    for (const [id, value] of d.set) this.signals.set(id, value);
    for (const [id] of d.del) this.signals.delete(id);
    for (const [id, state] of d.ids) this.ids.set(id, state);
    for (const id of d.forget) if (this.ids.get(id) === 'closed') this.ids.delete(id);
    for (const [symbol, value] of d.books) this.books.set(symbol, value);
    for (const [symbol, value] of d.seqs) this.seqs.set(symbol, value);
    for (const [key, value] of d.outbox) this.outbox.set(key, value);
    if (this.bufferSize > 0) {
      const keep = this.bufferSize * RECENT_TICK_BYTES;
      encoded.symbols.forEach((symbol, r) => {
        const before = this.recent.get(symbol) ?? Buffer.alloc(0);
        let bytes = Buffer.concat([before, encoded.recent[r]!]);
        // The previous version's list goes once the string alone holds a whole buffer.
        if (bytes.length >= keep && before.length < keep) this.recentList.delete(symbol);
        if (bytes.length > 2 * keep) bytes = bytes.subarray(bytes.length - keep);
        this.recent.set(symbol, bytes);
      });
    }
    for (const w of encoded.stacks) {
      // SETRANGE: overwrite from the offset, growing (zero-filled) as needed.
      const key = stackKey(w.symbol, w.series, w.kind);
      const before = this.stacks.get(key) ?? Buffer.alloc(0);
      const after = Buffer.alloc(Math.max(before.length, w.offset + w.bytes.length));
      before.copy(after);
      w.bytes.copy(after, w.offset);
      this.stacks.set(key, after);
    }
    if (d.clock !== null) this.clock = JSON.stringify({ tickTs: d.clock, wallMs });
    this.progress = jobId;
    if (isBullmqJobId(jobId)) this.appliedAuto = jobId;
    else if (isForwardedOpJobId(jobId))
      this.appliedOps = [...this.appliedOps, jobId].slice(-APPLIED_CUSTOM_KEPT);
    else this.appliedCustom = [...this.appliedCustom, jobId].slice(-APPLIED_CUSTOM_KEPT);
    return true;
  }

  /**
   * Applies a job to `runtime` and commits its delta, as the shard worker does: ids looked up,
   * recent ticks loaded when a registration needs them, the delta encoded and committed, and
   * only then the job noted as applied. Throws if the commit is refused (the marker moved).
   */
  process(runtime: ShardRuntime, jobId: string, data: ShardJobData, maxTickTs = Infinity): ShardDelta {
    for (const symbol of runtime.needsRecent(data)) runtime.setRecent(symbol, this.loadRecent(symbol));
    const delta = runtime.apply(jobId, data, this.lookupIds(idsOf(data)), maxTickTs);
    if (!this.commit(runtime.appliedJob, jobId, shardCodec.encodeDelta(delta)))
      throw new Error(`job ${jobId}: the stored marker is ${this.progress}, not ${runtime.appliedJob}`);
    runtime.noteApplied(jobId);
    return delta;
  }

  /** The registration state of `ids`, as `lookupIds` reads it. */
  lookupIds(ids: string[]): KnownIds {
    const known: KnownIds = new Map();
    for (const id of ids) {
      const state = shardCodec.decodeLedger(this.ids.get(id));
      if (state !== undefined) known.set(id, state);
    }
    return known;
  }

  /** A runtime restored from what is stored, as `loadShard` restores one. */
  load(): ShardRuntime {
    const books = new Map<string, BookClock>();
    for (const symbol of this.books.keys()) books.set(symbol, this.bookClock(symbol)!);
    const records = [...this.signals].map(([id, text]) => shardCodec.restoreRecord(text, id));
    return ShardRuntime.restore(
      this.bufferSize,
      shardCodec.decodeProgress(this.progress, this.appliedAuto, [...this.appliedCustom, ...this.appliedOps]),
      books,
      records,
      new Map(),
    );
  }

  /**
   * A symbol's stored index clock with its extrema stacks, brought forward over the ticks since
   * (book-seqs and the recent ticks), as `loadShard` reads it; undefined if none.
   */
  bookClock(symbol: string): BookClock | undefined {
    const text = this.books.get(symbol);
    if (text === undefined) return undefined;
    const stored = shardCodec.decodeBookClock(text, (ref) =>
      this.stacks.get(stackKey(symbol, ref.series, ref.kind)),
    );
    const recent = shardCodec.unpackTicks(this.recent.get(symbol) ?? Buffer.alloc(0), symbol);
    return clockAt(symbol, stored, this.seqs.get(symbol), recent);
  }

  /** A symbol's last `bufferSize` recent ticks, as the worker's `loadRecent` reads them. */
  loadRecent(symbol: string): Tick[] {
    const listed = (this.recentList.get(symbol) ?? []).map((t) => shardCodec.decodeRecentTick(t));
    const packed = shardCodec.unpackTicks(this.recent.get(symbol) ?? Buffer.alloc(0), symbol);
    return [...listed, ...packed].slice(-this.bufferSize);
  }

  /** Every outbox entry, in the order first written. */
  outboxEntries(): OutboxEntry[] {
    return [...this.outbox.values()].map((t) => shardCodec.decodeOutboxEntry(t));
  }
}

function stackKey(symbol: string, series: number, kind: 'max' | 'min'): string {
  return `${series}${kind}:${symbol}`;
}
