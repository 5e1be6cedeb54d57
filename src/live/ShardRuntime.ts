import { checkStorable } from '../validation/checkStorable.ts';
import { signalClosed, signalUnknown } from '../../machines/operations.ts';
import { outcomeLine } from '../../machines/outcomeLine.ts';
import type { NormalizedSignal, SignalContext } from '../../machines/signalContext.ts';
import { persistSignal, startSignal } from '../../machines/signalMachine.ts';
import { sweepDueAt } from '../../machines/sweep.ts';
import type { Operation, Tick } from '../../machines/types.ts';
import { Engine } from '../engine/Engine.ts';
import { codesOf, messagesOf, type TrackerError } from '../errors.ts';
import { SymbolBook, type BookClock, type DeferredSignal } from '../engine/SymbolBook.ts';
import { isBullmqJobId, isForwardedOpJobId } from '../names.ts';
import { shardCodec, UnreadableRecordError } from './shardCodec.ts';
import { TickRing } from './TickRing.ts';
import type { OutboxEntry } from '../storage/OutboxEntry.ts';
import {
  fromWire,
  outboxKey,
  type CheckpointRecord,
  type ShardDelta,
  type ShardJobData,
} from './messages.ts';

/** Registration state of ids this job touches, looked up in Redis before the job runs. */
export type KnownIds = Map<string, 'open' | 'closed'>;

/** How many custom job ids a shard remembers having applied; as many forwarded operations apart. */
export const APPLIED_CUSTOM_KEPT = 1000;

/** What `needsRecent` answers when nothing needs loading (no allocation on the tick path). */
const NONE: readonly string[] = Object.freeze([]);

/**
 * A shard's signals in memory: the engine, each symbol's recent ticks (to catch up signals
 * that arrive late) and the last job applied. `apply` is pure computation over memory; the
 * worker persists the returned delta. The same runtime serves job after job until another
 * process moves the shard on.
 */
export class ShardRuntime {
  /** The progress marker: the last job whose effects are committed. */
  appliedJob: string | null = null;
  /** The highest BullMQ-numbered job applied. */
  appliedAuto: string | null = null;
  /** Custom-id jobs applied lately, oldest first (a custom id says nothing about order). */
  readonly appliedCustom = new Set<string>();
  /** The operations forwarded by the intake, custom ids too, kept apart (ShardKeys.appliedOps). */
  readonly appliedOps = new Set<string>();
  private readonly engine: Engine;
  private readonly recent = new Map<string, TickRing>();
  /**
   * Symbols whose recent ticks are in Redis but not (yet) in memory: a restored shard loads a
   * symbol's buffer only when a late registration needs it (`needsRecent`), so taking a shard
   * over does not read millions of buffered ticks.
   */
  private readonly recentInRedis = new Set<string>();
  private delta: ShardDelta = emptyDelta();
  /** Tick symbols found usable (usableSymbol): only real symbols, so the set stays small. */
  private readonly usableSymbols = new Set<string>();
  private jobId = '';
  /** Set while {@link restoreSignals} files signals: their changes are not noted. */
  private restoring = false;
  /** Market time of what the job is applying now (a tick's, an operation's, the sweep's clock). */
  private at = 0;

  /** A symbol's clock goes into a checkpoint at least every this many of its ticks. */
  private readonly clockEvery: number;

  /** `clockEvery`: at most this many ticks between two stored clocks of a symbol (tests). */
  constructor(
    private readonly bufferSize: number,
    clockEvery = clockInterval(bufferSize),
  ) {
    this.clockEvery = Math.min(clockEvery, clockInterval(bufferSize));
    this.engine = new Engine({
      decode: (text) => {
        try {
          return shardCodec.decodeRecord(text).context;
        } catch (err) {
          throw new UnreadableRecordError(text, err);
        }
      },
      onChange: (c, previous) => {
        if (this.restoring) return; // what a restore's catching up changes is dropped: see restoreSignals
        this.noteEvents(previous, c);
        if (c.phase === 'closed') return;
        this.delta.set.set(c.id, this.record(c));
      },
      onClose: (c) => this.closed(c),
    });
  }

  /** A runtime continuing from checkpointed state. */
  static restore(
    bufferSize: number,
    progress: { appliedJob: string | null; appliedAuto?: string | null; appliedCustom?: readonly string[] },
    books: Map<string, BookClock>,
    records: Iterable<CheckpointRecord | DeferredSignal>,
    recent: Map<string, Tick[]>,
  ): ShardRuntime {
    const rt = new ShardRuntime(bufferSize);
    rt.appliedJob = progress.appliedJob;
    rt.appliedAuto = progress.appliedAuto ?? null;
    for (const id of progress.appliedCustom ?? []) rt.appliedSet(id).add(id);
    // Operations kept in applied-custom by the version before as well as in applied-ops.
    for (const applied of [rt.appliedCustom, rt.appliedOps])
      while (applied.size > APPLIED_CUSTOM_KEPT) applied.delete(applied.values().next().value!);
    for (const [symbol, clock] of books) rt.engine.book(symbol).importClock(clock);
    for (const [symbol, clock] of books)
      if (clock.seq > 0 && !recent.has(symbol)) rt.recentInRedis.add(symbol);
    for (const [symbol, ticks] of recent) rt.recent.set(symbol, TickRing.of(ticks, bufferSize));
    rt.restoreSignals(records);
    return rt;
  }

  /**
   * Adds checkpointed open signals to a runtime being restored (its clocks already imported),
   * so that a large shard can be restored a slice at a time: decoded records, or deferred ones
   * (`shardCodec.restoreRecord`). A signal already here is skipped: HSCAN may return a record
   * twice (when the hash is resized during the scan).
   */
  restoreSignals(records: Iterable<CheckpointRecord | DeferredSignal>): void {
    // Catching decoded trailing signals up (records without index entries: written before
    // 2026-12-04, or without a peak) changes their contexts (their peaks): those changes are the
    // checkpoint's already, so none is noted (building a record and events for each was about
    // 4 % of a 1M-signal take-over's CPU in a profile, all of it then dropped).
    this.restoring = true;
    try {
      for (const r of records) {
        if ('text' in r) this.engine.addDeferred(r);
        else if (!this.engine.has(r.context.id)) this.engine.addAt(r.context, r.sync);
      }
    } finally {
      this.restoring = false;
    }
    this.delta = emptyDelta();
  }

  get openCount(): number {
    return this.engine.openCount;
  }

  /**
   * Whether job `jobId`'s effects are already committed (BullMQ re-delivers a job that stalled
   * after its checkpoint). BullMQ's own ids increase, so they compare by value; a custom id
   * (a foreign producer's) is looked up among the custom ids applied lately.
   */
  hasApplied(jobId: string): boolean {
    if (jobId === this.appliedJob) return true;
    if (isBullmqJobId(jobId)) return this.appliedAuto !== null && BigInt(jobId) <= BigInt(this.appliedAuto);
    return this.appliedSet(jobId).has(jobId);
  }

  /** Records that `jobId` is committed (after the checkpoint that carried it). */
  noteApplied(jobId: string): void {
    this.appliedJob = jobId;
    if (isBullmqJobId(jobId)) {
      this.appliedAuto = jobId;
      return;
    }
    const applied = this.appliedSet(jobId);
    applied.add(jobId);
    if (applied.size > APPLIED_CUSTOM_KEPT) applied.delete(applied.values().next().value!);
  }

  /** Where custom id `jobId` is remembered: forwarded operations apart from the rest. */
  private appliedSet(jobId: string): Set<string> {
    return isForwardedOpJobId(jobId) ? this.appliedOps : this.appliedCustom;
  }

  /**
   * Applies one shard job; returns what to persist. `known` holds the ids' registration state;
   * ticks later than `maxTickTs` (the wall clock plus MAX_CLOCK_SKEW_MS) are skipped and counted.
   */
  apply(jobId: string, data: ShardJobData, known: KnownIds, maxTickTs = Infinity): ShardDelta {
    this.delta = emptyDelta();
    this.jobId = jobId;
    switch (data.kind) {
      case 'ticks':
        for (const wire of data.ticks) {
          if (!Array.isArray(wire)) this.delta.poisonTicks++;
          else this.tick(fromWire(wire), maxTickTs);
        }
        break;
      case 'register':
        this.register(data.signal, known.get(data.signal.id));
        break;
      case 'register-batch':
        for (const signal of data.signals) this.register(signal, known.get(signal.id));
        break;
      case 'op':
        this.operation(data.op, known.get(data.op.id));
        break;
      case 'sweep':
        this.sweep(data.clock, data.graceMs);
        break;
      case 'forget':
        for (const id of data.ids)
          if (known.get(id) === 'closed' && !this.engine.has(id)) this.delta.forget.add(id);
        break;
      default:
        throw new Error(`unknown shard job kind ${JSON.stringify((data as { kind: unknown }).kind)}`);
    }
    for (const symbol of this.delta.recent.keys()) {
      const book = this.engine.book(symbol);
      if (book.clockDue(this.clockEvery)) this.delta.books.set(symbol, book.exportClockTail());
      this.delta.seqs.set(symbol, book.seq);
    }
    return this.delta;
  }

  /**
   * The symbols whose recent ticks must be loaded from Redis before `data` can be applied
   * (registrations that may need catching up on a restored shard); none for other jobs.
   */
  needsRecent(data: ShardJobData): readonly string[] {
    // Nothing allocated for a tick job (the hot path), nor once every buffer is in memory.
    if ((data.kind !== 'register' && data.kind !== 'register-batch') || this.recentInRedis.size === 0)
      return NONE;
    const signals = data.kind === 'register' ? [data.signal] : data.signals;
    const symbols = new Set<string>();
    for (const s of signals)
      if (this.recentInRedis.has(s.symbol) && this.engine.book(s.symbol).lastTs >= s.createdAt)
        symbols.add(s.symbol);
    return [...symbols];
  }

  /** Installs a symbol's recent ticks as read from Redis (everything committed so far). */
  setRecent(symbol: string, ticks: Tick[]): void {
    this.recent.set(symbol, TickRing.of(ticks, this.bufferSize));
    this.recentInRedis.delete(symbol);
  }

  /** A symbol's index clock with its whole extrema stacks, as a restore would need it. */
  bookClock(symbol: string): BookClock {
    return this.engine.book(symbol).exportClock();
  }

  /** Every open signal with every tick folded in (for export). */
  *openSignals(): IterableIterator<SignalContext> {
    for (const book of this.engine.symbolBooks())
      for (const slot of [...book.slots()]) yield book.current(slot);
  }

  /**
   * Whether a tick's symbol could be a signal's (SPEC: at most 64 characters) and is text the
   * checkpoint script's JSON decoder takes: a lone surrogate in it failed every checkpoint of
   * the job, retried forever, and stopped the shard. Checked once per symbol.
   */
  private usableSymbol(symbol: string): boolean {
    if (this.usableSymbols.has(symbol)) return true;
    if (symbol.length > 64 || checkStorable(symbol).length > 0) return false;
    this.usableSymbols.add(symbol);
    return true;
  }

  private tick(tick: Tick, maxTickTs: number): void {
    if (!isWellFormed(tick) || !this.usableSymbol(tick.symbol)) {
      this.delta.poisonTicks++;
      return;
    }
    if (tick.ts > maxTickTs) {
      this.delta.futureTicks++;
      return;
    }
    this.at = tick.ts;
    if (!this.engine.applyTick(tick)) {
      this.delta.lateTicks++;
      return;
    }
    this.delta.lastTickTs = Math.max(this.delta.lastTickTs ?? -Infinity, tick.ts);
    let added = this.delta.recent.get(tick.symbol);
    if (added === undefined) this.delta.recent.set(tick.symbol, (added = []));
    added.push(tick);
    if (this.bufferSize === 0 || this.recentInRedis.has(tick.symbol)) return; // Redis has them
    let ring = this.recent.get(tick.symbol);
    if (ring === undefined) this.recent.set(tick.symbol, (ring = new TickRing(this.bufferSize)));
    ring.push(tick);
  }

  /**
   * Registers a signal. Ticks of its symbol at or after its createdAt that this shard has
   * already applied are replayed to it from the recent buffer, so that a late signal ends as
   * replay would have it; a gap (ticks that already left the buffer) is reported.
   */
  private register(signal: NormalizedSignal, known: 'open' | 'closed' | undefined): void {
    // A repeat within one job: the first may have closed at once in its catch-up, and so be in
    // the delta but not the engine.
    if (known !== undefined || this.engine.has(signal.id) || this.delta.ids.has(signal.id)) {
      this.delta.duplicates++;
      return;
    }
    let context = startSignal(signal);
    const initial = context;
    const book = this.engine.book(signal.symbol);
    if (book.lastTs >= signal.createdAt) {
      const missedUpTo = this.droppedAtOrAfter(signal.symbol, signal.createdAt, book);
      if (missedUpTo !== null) {
        this.push({
          kind: 'catchup_gap',
          id: signal.id,
          symbol: signal.symbol,
          createdAt: signal.createdAt,
          missedUpTo,
        });
      }
      const past = this.recent.get(signal.symbol)?.since(signal.createdAt, signal.symbol) ?? [];
      let closed: SignalContext | null = null;
      const solo = new SymbolBook(signal.symbol, { onClose: (c) => (closed = c) });
      const slot = solo.add(context);
      for (const t of past) {
        solo.applyTick(t);
        if (closed !== null) break;
      }
      // The catch-up ran on a book of its own: its events are the difference it made (a fill,
      // every leg, the stop it ended with), at the time of the last tick it replayed.
      this.at = past.length > 0 ? past[past.length - 1]!.ts : signal.createdAt;
      if (closed !== null) {
        this.noteEvents(initial, closed);
        this.delta.ids.set(signal.id, 'closed');
        this.closed(closed);
        return;
      }
      context = solo.current(slot);
      this.noteEvents(initial, context);
    }
    this.engine.add(context);
    this.delta.ids.set(signal.id, 'open');
    this.delta.set.set(signal.id, this.record(context));
  }

  /** The latest dropped tick time at or after `from`, or null when the buffer covers it. */
  private droppedAtOrAfter(symbol: string, from: number, book: SymbolBook): number | null {
    const ring = this.recent.get(symbol);
    if (ring === undefined) return book.seq > 0 ? book.lastTs : null;
    if (ring.droppedTs !== null) return ring.droppedTs >= from ? ring.droppedTs : null;
    // A buffer restored from Redis may not reach back to this book's first tick either.
    const first = ring.firstTs();
    if (ring.length < book.seq && (first ?? Infinity) > from) return first ?? book.lastTs;
    return null;
  }

  private operation(op: Operation, known: 'open' | 'closed' | undefined): void {
    let errors: TrackerError[];
    this.at = op.ts;
    if (this.engine.has(op.id)) errors = this.engine.applyOperation(op);
    else if (known === 'closed') errors = [signalClosed(op.id)];
    else errors = [signalUnknown(op.id)];
    const applied = errors.length === 0;
    this.push({ kind: 'op', op, applied, errors: messagesOf(errors), codes: codesOf(errors) });
  }

  private sweep(clock: number, graceMs: number): void {
    const event = { type: 'SWEEP' as const, clock, graceMs };
    this.at = clock;
    for (const book of this.engine.symbolBooks()) {
      for (const slot of [...book.slots()]) {
        if (sweepDueAt(book.timeDeadline(slot), event)) book.send(slot, event);
      }
    }
  }

  private closed(c: SignalContext): void {
    this.delta.set.delete(c.id);
    this.delta.del.add(c.id);
    this.delta.ids.set(c.id, 'closed');
    this.push({ kind: 'closed', symbol: c.symbol, outcome: outcomeLine(c) });
  }

  /**
   * The events a change made (docs/API.md "Live stream"): the fill, each new leg, a stop that
   * moved. Runs for changed signals only, and compares a few fields: no allocation unless
   * something happened.
   */
  private noteEvents(before: SignalContext, after: SignalContext): void {
    if (before.fill === after.fill && before.legs.length === after.legs.length && before.stop === after.stop)
      return;
    const base = { id: after.id, symbol: after.symbol };
    if (before.fill === null && after.fill !== null) {
      const data = { price: after.fill.price, initialStop: after.initialStop };
      this.push({ kind: 'event', type: 'signal.filled', ...base, ts: after.fill.ts, data });
    }
    for (let i = before.legs.length; i < after.legs.length; i++) {
      const leg = after.legs[i]!;
      const data = { index: i, ...leg };
      this.push({ kind: 'event', type: 'signal.leg', ...base, ts: leg.ts, data });
    }
    // A stop that changes as the signal closes moves nothing anyone can act on.
    if (after.phase !== 'closed' && after.stop !== null && after.stop !== before.stop) {
      const data = {
        stop: after.stop,
        stopKind: after.stopKind,
        previous: { stop: before.stop, stopKind: before.stopKind },
      };
      this.push({ kind: 'event', type: 'signal.stop_moved', ...base, ts: this.at, data });
    }
  }

  private push(entry: OutboxEntry): void {
    this.delta.outbox.set(outboxKey(entry, this.jobId, this.delta.outbox.size), entry);
  }

  private record(c: SignalContext): CheckpointRecord {
    return { ...persistSignal(c), sync: this.engine.book(c.symbol).seq };
  }
}

function isWellFormed(t: Tick): boolean {
  return (
    typeof t.symbol === 'string' &&
    t.symbol !== '' &&
    Number.isInteger(t.ts) &&
    typeof t.price === 'number' &&
    Number.isFinite(t.price) &&
    t.price > 0 &&
    absentOrPositive(t.bid) &&
    absentOrPositive(t.ask)
  );
}

/**
 * A quote that is absent or a positive number. At module level, as every helper on the tick
 * path (docs/ARCHITECTURE.md "Code that runs once a tick"): the worker runs under tsx, which
 * names each arrow function bound to a name when it is created (an `Object.defineProperty`), so
 * one declared inside `isWellFormed` cost a property definition a tick, about a sixth of a
 * worker's CPU.
 */
function absentOrPositive(x: number | undefined): boolean {
  return x === undefined || (Number.isFinite(x) && x > 0);
}

/** Stored clocks are at most this many of a symbol's ticks old. */
export const CLOCK_EVERY_MAX = 1024;

/**
 * How many of a symbol's ticks may pass between two stored clocks: the ticks in between must
 * still be in its recent buffer when a restore reads it (which keeps at least `bufferSize`),
 * so never more than the buffer; every job without one.
 */
export function clockInterval(bufferSize: number): number {
  return bufferSize > 0 ? Math.min(CLOCK_EVERY_MAX, bufferSize) : 1;
}

/** A delta with nothing in it. */
export function emptyDelta(): ShardDelta {
  return {
    set: new Map(),
    del: new Set(),
    ids: new Map(),
    forget: new Set(),
    books: new Map(),
    seqs: new Map(),
    recent: new Map(),
    outbox: new Map(),
    lastTickTs: null,
    lateTicks: 0,
    poisonTicks: 0,
    futureTicks: 0,
    duplicates: 0,
  };
}
