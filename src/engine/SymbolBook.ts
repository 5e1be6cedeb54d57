import type { AmendEvent, CancelEvent, ExitEvent, SignalEvent } from '../../machines/events.ts';
import { operationErrors } from '../../machines/operations.ts';
import { raisedPeak } from '../../machines/position.ts';
import type { TrackerError } from '../errors.ts';
import type { SignalContext } from '../../machines/signalContext.ts';
import { sendToSignal, syncSignal } from '../../machines/signalMachine.ts';
import { SERIES, seriesPrice, type Series } from '../../machines/triggerPrice.ts';
import type { Tick } from '../../machines/types.ts';
import { timeDeadline } from '../../machines/sweep.ts';
import { watchOf, type Watch } from '../../machines/watch.ts';
import { ExtremaLog, type ExtremaState, type ExtremaTail } from './ExtremaLog.ts';
import { SlotHeap } from './SlotHeap.ts';
import { TrailBook } from './TrailBook.ts';

const SERIES_COUNT = SERIES.length;
const SERIES_INDEX: Record<Series, number> = { last: 0, bid: 1, ask: 2, mid: 3 };
/**
 * Relative slack on thresholds: a tick at the level is always delivered, whatever the rounding.
 * Wider than the machine's own 1e-12 (SPEC's comparison slack) so that a price the machine
 * counts as touching is never withheld; an extra delivery costs nothing, the machine decides.
 */
const LOOSEN = 4e-12;
/** Extrema stacks beyond this many entries are folded into their signals and cleared. */
const EXTREMA_LIMIT = 1 << 16;

export type OperationEvent = ExitEvent | CancelEvent | AmendEvent;

/**
 * A book's own state beside its signals: enough, with each signal's checkpoint and the tick
 * number of its last event, for another process to continue exactly (plain JSON).
 */
export interface BookClock {
  seq: number;
  /** null: no tick applied yet. */
  lastTs: number | null;
  lastValue: number[];
  /** Extrema logs of the series some signal tracks, by series index. */
  extrema: (ExtremaState | null)[];
}

/**
 * What a checkpoint writes of a book: its clock, and of each extrema stack only what changed
 * since the book's previous checkpoint ({@link ExtremaTail}). Null: a series nobody tracks.
 */
export interface BookClockDelta extends Omit<BookClock, 'extrema'> {
  extrema: (ExtremaTail | null)[];
}

/**
 * A restored signal whose context is decoded only when something first needs it (a tick it
 * watches, an operation, a sweep that closes it, an export): its checkpoint text and what the
 * index needs meanwhile. Most of a take-over's open signals wait far from every level, so a
 * take-over keeps their text instead of building a context for each (docs/ARCHITECTURE.md
 * "Take-over").
 */
export interface DeferredSignal {
  id: string;
  symbol: string;
  /** The tick number of its last event. */
  sync: number;
  /** Its checkpoint text, which `SymbolBookHooks.decode` turns into its context. */
  text: string;
  /**
   * `watchOf` its context. An active trailing stop's peak is the context's, as of tick `sync`:
   * the book raises it over the ticks applied since ({@link SymbolBook.addDeferred}).
   */
  watch: Watch;
  /** `timeDeadline` of its context. */
  deadline: number | null;
}

export interface SymbolBookHooks {
  /** Decodes a deferred signal's text into its context (needed once a book holds one). */
  decode?: (text: string) => SignalContext;
  /**
   * A signal changed (any event that reached the machine); its new context and the one before
   * (both immutable: the machine returns a new context, so comparing them is cheap).
   */
  onChange?: (context: SignalContext, previous: SignalContext) => void;
  /** A signal closed; it has left the book. */
  onClose?: (context: SignalContext) => void;
}

/**
 * The open signals of one symbol and the index that finds the few a tick can change.
 *
 * Each signal's `watchOf()` thresholds go into heaps per price series (levels below and above
 * the price, deadlines), a list of signals with armed levels, and trailing books. A tick pops
 * what it crosses and sends only those signals a TICK event; every other signal is provably
 * unaffected beyond its excursions and trailing peak, which the extrema logs give back in one
 * step at its next event. So a tick costs O(log n + k) for k signals it changes, whatever n.
 */
export class SymbolBook {
  /** Ticks applied so far; a tick's number is its position. */
  seq = 0;
  lastTs = -Infinity;
  lateTicks = 0;
  openCount = 0;

  /** A slot's context, or the text of a deferred signal not decoded yet ({@link DeferredSignal}). */
  private contexts: (SignalContext | string | undefined)[] = [];
  /** A deferred signal's `timeDeadline` (NaN: none). */
  private deferredDeadline = new Float64Array(16);
  private vers = new Uint32Array(16);
  private syncSeq = new Float64Array(16);
  private seriesOf = new Uint8Array(16);
  private tracking = new Uint8Array(16);
  private dueMark = new Float64Array(16);
  private freeSlots: number[] = [];

  /** Per series: max-heap (negated keys) of "deliver at or below", min-heap of "at or above". */
  private readonly below = Array.from({ length: SERIES_COUNT }, () => new SlotHeap());
  private readonly above = Array.from({ length: SERIES_COUNT }, () => new SlotHeap());
  private readonly deadlines = new SlotHeap();
  private everySlots: number[] = [];
  private everyVers: number[] = [];
  /** Per series and side (index 2·series + (short ? 1 : 0)). */
  private readonly trails: TrailBook[];
  private readonly extrema = Array.from({ length: SERIES_COUNT }, () => new ExtremaLog());
  private readonly trackingCount = new Float64Array(SERIES_COUNT);
  /** Each series' value on the latest applied tick. */
  private readonly lastValue = new Float64Array(SERIES_COUNT);
  private readonly tickValues = new Float64Array(SERIES_COUNT);
  private due: number[] = [];
  private markSeq = 0;
  /** Adds a slot to this tick's deliveries once. A field, so the tick path allocates no closure. */
  private readonly mark = (slot: number): void => {
    if (this.dueMark[slot] === this.markSeq) return;
    this.dueMark[slot] = this.markSeq;
    this.due.push(slot);
  };
  /**
   * Whether a heap entry's slot still holds the signal it was pushed for. A field, so that
   * `compactIfSparse` (every tick) creates no closure.
   */
  private readonly live = (slot: number, ver: number): boolean => this.vers[slot] === ver;
  private readonly heaps: SlotHeap[];
  /** Ticks applied since the clock was last exported for a checkpoint (exportClockTail). */
  private ticksSinceClock = 0;
  /**
   * The next checkpoint must carry the clock: set when the stacks stop being only pushed to
   * (a series becomes tracked or untracked, a stack is cleared or folded) and after a restore,
   * so that between two stored clocks the ticks alone give the stacks ({@link advanceClock}).
   */
  private clockForced = true;

  constructor(
    readonly symbol: string,
    private readonly hooks: SymbolBookHooks = {},
  ) {
    this.trails = [];
    for (let s = 0; s < SERIES_COUNT; s++)
      this.trails.push(new TrailBook(1, this.live), new TrailBook(-1, this.live));
    this.heaps = [...this.below, ...this.above, this.deadlines];
  }

  /**
   * Adds a signal; returns its slot. A new signal is current as of the latest tick. A restored
   * one passes `syncSeq`, the tick number of its last event: ticks after it are folded in at
   * its next event, except for an active trailing stop, whose level the index must know now.
   */
  add(context: SignalContext, syncSeq = this.seq): number {
    const slot = this.freeSlots.pop() ?? this.contexts.length;
    if (slot >= this.vers.length) this.grow();
    this.contexts[slot] = context;
    this.syncSeq[slot] = syncSeq;
    this.openCount++;
    this.watch(slot, watchOf(context));
    if (context.trailActive && syncSeq < this.seq) this.current(slot);
    return slot;
  }

  /**
   * Adds a restored signal without decoding it ({@link DeferredSignal}); returns its slot. An
   * active trailing stop is filed at its peak raised over the ticks after `sync`, from the
   * extrema logs: where the trailing book of the process before had it. The context catches up
   * (peak, stop, excursions) from the same logs at its next event, as a signal that no tick
   * reached does.
   */
  addDeferred(signal: DeferredSignal): number {
    if (this.hooks.decode === undefined)
      throw new Error(`book ${this.symbol} cannot decode deferred signals`);
    const { trail } = signal.watch;
    if (trail !== null && trail.peak === null)
      throw new Error(`signal ${signal.id}: a trailing stop without a peak cannot be deferred`);
    const slot = this.freeSlots.pop() ?? this.contexts.length;
    if (slot >= this.vers.length) this.grow();
    this.contexts[slot] = signal.text;
    this.deferredDeadline[slot] = signal.deadline ?? NaN;
    this.syncSeq[slot] = signal.sync;
    this.openCount++;
    if (trail === null || signal.sync >= this.seq) this.watch(slot, signal.watch);
    else {
      // As catchUpInPlace raises a context's peak (trailTo), over the extremes catchUp gives.
      const log = this.extrema[SERIES_INDEX[signal.watch.series]]!;
      const since = trail.dir > 0 ? log.maxAfter(signal.sync) : log.minAfter(signal.sync);
      const peak = since === undefined ? trail.peak : raisedPeak(trail.peak, trail.dir, since);
      this.watch(slot, { ...signal.watch, trail: { ...trail, peak } });
    }
    return slot;
  }

  /**
   * This book's clock and what its extrema stacks gained since the previous call, for the next
   * checkpoint: call once per committed checkpoint that carries this book (the runtime is
   * dropped and restored when a commit fails, which starts the stacks over in full).
   */
  exportClockTail(): BookClockDelta {
    this.ticksSinceClock = 0;
    this.clockForced = false;
    return {
      ...this.clockHead(),
      extrema: this.extrema.map((log, s) => {
        if (this.trackingCount[s]! > 0) return log.exportTail();
        log.forgetSaved(); // written as null: when tracked again, the stacks go whole
        return null;
      }),
    };
  }

  /**
   * Whether the next checkpoint must carry this book's clock: `every` ticks after the last one
   * at most, or at once when the stacks changed other than by a tick's push. In between, a
   * checkpoint stores only the tick count (and the ticks, in the recent buffer), from which
   * {@link advanceClock} brings the stored clock up to date.
   */
  clockDue(every: number): boolean {
    return this.clockForced || this.ticksSinceClock >= every;
  }

  /** This book's clock and whole extrema stacks (what a restore needs). */
  exportClock(): BookClock {
    return {
      ...this.clockHead(),
      extrema: this.extrema.map((log, s) => (this.trackingCount[s]! > 0 ? log.export() : null)),
    };
  }

  /** The clock without its stacks: tick count, last tick's time, each series' last value. */
  private clockHead(): Omit<BookClock, 'extrema'> {
    return {
      seq: this.seq,
      lastTs: Number.isFinite(this.lastTs) ? this.lastTs : null,
      lastValue: Array.from(this.lastValue),
    };
  }

  /** Restores the clock and extrema; call before adding the signals back. */
  importClock(clock: BookClock): void {
    this.seq = clock.seq;
    this.lastTs = clock.lastTs ?? -Infinity;
    this.lastValue.set(clock.lastValue);
    clock.extrema.forEach((state, s) => {
      if (state !== null) this.extrema[s]!.import(state);
    });
    this.clockForced = true;
  }

  /**
   * The market time at which the signal in `slot` closes by time alone (`timeDeadline`), or
   * null; a deferred signal stays undecoded.
   */
  timeDeadline(slot: number): number | null {
    const stored = this.contexts[slot]!;
    if (typeof stored !== 'string') return timeDeadline(stored);
    const deadline = this.deferredDeadline[slot]!;
    return Number.isNaN(deadline) ? null : deadline;
  }

  /** The signal in `slot` with every applied tick folded in. */
  current(slot: number): SignalContext {
    const context = this.context(slot);
    const catchUp = this.catchUp(slot, this.seq);
    if (catchUp === null) return context;
    return this.settle(slot, syncSignal(context, catchUp), this.seq);
  }

  /** Applies a tick. Returns false for a late tick (older than the latest applied one). */
  applyTick(tick: Tick): boolean {
    if (tick.ts < this.lastTs) {
      this.lateTicks++;
      return false;
    }
    this.lastTs = tick.ts;
    const cur = this.seq + 1;
    const values = this.tickValues;
    for (let s = 0; s < SERIES_COUNT; s++) values[s] = seriesPrice(tick, SERIES[s]!);

    const due = this.due;
    due.length = 0;
    this.markSeq = cur;
    const mark = this.mark;
    for (let s = 0; s < SERIES_COUNT; s++) {
      const v = values[s]!;
      const below = this.below[s]!;
      while (below.size > 0 && -below.topKey() >= v) {
        if (this.vers[below.topSlot()] === below.topVer()) mark(below.topSlot());
        below.pop();
      }
      const above = this.above[s]!;
      while (above.size > 0 && above.topKey() <= v) {
        if (this.vers[above.topSlot()] === above.topVer()) mark(above.topSlot());
        above.pop();
      }
    }
    const deadlines = this.deadlines;
    while (deadlines.size > 0 && deadlines.topKey() <= tick.ts) {
      if (this.vers[deadlines.topSlot()] === deadlines.topVer()) mark(deadlines.topSlot());
      deadlines.pop();
    }
    if (this.everySlots.length > 0) {
      const slots = this.everySlots;
      const vers = this.everyVers;
      // Consumed: a signal delivered this tick files itself again if still armed.
      this.everySlots = [];
      this.everyVers = [];
      for (let i = 0; i < slots.length; i++) if (this.vers[slots[i]!] === vers[i]) mark(slots[i]!);
    }
    for (let i = 0; i < this.trails.length; i++) {
      const book = this.trails[i]!;
      if (book.size === 0) continue;
      const v = values[i >> 1]!;
      book.collect(v, mark); // stops as they stood before this tick (SPEC step 2 precedes step 5)
      book.advance(v);
    }

    this.seq = cur;
    for (let i = 0; i < due.length; i++) {
      const slot = due[i]!;
      const catchUp = this.catchUp(slot, cur - 1);
      const event: SignalEvent = { type: 'TICK', ts: tick.ts, price: tick.price, ...catchUp };
      if (tick.bid !== undefined) event.bid = tick.bid;
      if (tick.ask !== undefined) event.ask = tick.ask;
      this.settle(slot, sendToSignal(this.context(slot), event), cur);
    }

    for (let s = 0; s < SERIES_COUNT; s++) {
      this.lastValue[s] = values[s]!;
      const log = this.extrema[s]!;
      if (this.trackingCount[s]! > 0) {
        log.push(cur, values[s]!);
        if (log.size > EXTREMA_LIMIT) this.foldExtrema(s);
      } else if (log.size > 0) {
        log.clear(); // nobody catches up from it any more
        this.clockForced = true;
      }
    }
    this.ticksSinceClock++;
    if ((cur & 1023) === 0) this.compactIfSparse();
    return true;
  }

  /**
   * Checks and applies an operation to the signal in `slot`, after every tick applied so
   * far. Returns the reasons it does not apply ([] when it did).
   */
  applyOperation(slot: number, op: OperationEvent): TrackerError[] {
    const context = this.context(slot);
    const event = { ...op, ...this.catchUp(slot, this.seq) };
    const errors = operationErrors(context, event, event.last ?? context.lastP);
    if (errors.length > 0) return errors;
    this.settle(slot, sendToSignal(context, event), this.seq);
    return [];
  }

  /** Sends any other event (the live stale sweep) to the signal in `slot`. */
  send(slot: number, event: SignalEvent): SignalContext {
    const withCatchUp = { ...event, ...this.catchUp(slot, this.seq) };
    return this.settle(slot, sendToSignal(this.context(slot), withCatchUp), this.seq);
  }

  /** Every open signal's slot. */
  *slots(): IterableIterator<number> {
    for (let slot = 0; slot < this.contexts.length; slot++) if (this.contexts[slot] !== undefined) yield slot;
  }

  /** The series extremes over the ticks after this signal's last event up to tick `upTo`. */
  private catchUp(slot: number, upTo: number): { hi: number; lo: number; last: number } | null {
    if (this.tracking[slot] === 0 || this.syncSeq[slot]! >= upTo) return null;
    const s = this.seriesOf[slot]!;
    const log = this.extrema[s]!;
    const after = this.syncSeq[slot]!;
    return { hi: log.maxAfter(after)!, lo: log.minAfter(after)!, last: this.lastValue[s]! };
  }

  /** The context in `slot` as stored (excursions may lag), a deferred signal's decoded now. */
  private context(slot: number): SignalContext {
    const stored = this.contexts[slot]!;
    if (typeof stored !== 'string') return stored;
    const context = this.hooks.decode!(stored);
    this.contexts[slot] = context;
    return context;
  }

  private settle(slot: number, next: SignalContext, seq: number): SignalContext {
    const previous = this.context(slot);
    this.unwatch(slot);
    this.syncSeq[slot] = seq;
    if (next.phase === 'closed') {
      this.contexts[slot] = undefined;
      this.vers[slot]!++;
      this.freeSlots.push(slot);
      this.openCount--;
      this.hooks.onChange?.(next, previous);
      this.hooks.onClose?.(next);
      return next;
    }
    this.contexts[slot] = next;
    this.watch(slot, watchOf(next));
    this.hooks.onChange?.(next, previous);
    return next;
  }

  /** Files the slot's thresholds `w` (its `watchOf`) in the index. */
  private watch(slot: number, w: Watch): void {
    const ver = ++this.vers[slot]!;
    const s = SERIES_INDEX[w.series];
    this.seriesOf[slot] = s;
    if (w.tracksExtremes) {
      this.tracking[slot] = 1;
      if (this.trackingCount[s]!++ === 0) this.clockForced = true;
    }
    if (w.below > -Infinity) this.below[s]!.push(-(w.below + Math.abs(w.below) * LOOSEN), slot, ver);
    if (w.above < Infinity) this.above[s]!.push(w.above - Math.abs(w.above) * LOOSEN, slot, ver);
    if (w.at < Infinity) this.deadlines.push(w.at, slot, ver);
    if (w.every) {
      this.everySlots.push(slot);
      this.everyVers.push(ver);
    }
    if (w.trail !== null) {
      this.trails[2 * s + (w.trail.dir > 0 ? 0 : 1)]!.add(slot, ver, w.trail.peak, w.trail.factor);
    }
  }

  /** Invalidates the slot's index entries (they are dropped lazily). */
  private unwatch(slot: number): void {
    this.vers[slot]!++;
    if (this.tracking[slot] === 1) {
      this.tracking[slot] = 0;
      if (--this.trackingCount[this.seriesOf[slot]!]! === 0) this.clockForced = true;
    }
  }

  /** Folds the extremes of series `s` into every signal that tracks it, then clears the log. */
  private foldExtrema(s: number): void {
    for (const slot of this.slots()) {
      if (this.tracking[slot] === 1 && this.seriesOf[slot] === s) this.current(slot);
    }
    this.extrema[s]!.clear();
    this.clockForced = true;
  }

  private compactIfSparse(): void {
    const limit = 2 * this.openCount + 1024;
    for (const heap of this.heaps) {
      if (heap.size > limit) heap.compact(this.live);
    }
  }

  private grow(): void {
    const cap = this.vers.length * 2;
    const grow64 = (a: Float64Array): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    const grow8 = (a: Uint8Array): Uint8Array<ArrayBuffer> => {
      const b = new Uint8Array(cap);
      b.set(a);
      return b;
    };
    const vers = new Uint32Array(cap);
    vers.set(this.vers);
    this.vers = vers;
    this.syncSeq = grow64(this.syncSeq);
    this.deferredDeadline = grow64(this.deferredDeadline);
    this.dueMark = grow64(this.dueMark);
    this.seriesOf = grow8(this.seriesOf);
    this.tracking = grow8(this.tracking);
  }
}

/**
 * A stored clock brought forward over the ticks applied after it, in order (a shard's recent
 * buffer holds them): the tick count, time and last values, and each tracked series' stacks
 * pushed to. Exact while the book only pushed to its stacks since the clock was stored, which
 * `clockDue` guarantees (any other change of the stacks forces the clock into the checkpoint).
 */
export function advanceClock(clock: BookClock, ticks: readonly Tick[]): BookClock {
  if (ticks.length === 0) return clock;
  const logs = clock.extrema.map((state) => {
    if (state === null) return null;
    const log = new ExtremaLog();
    log.import(state);
    return log;
  });
  let seq = clock.seq;
  const lastValue = [...clock.lastValue];
  for (const tick of ticks) {
    seq++;
    for (let s = 0; s < SERIES_COUNT; s++) {
      const value = seriesPrice(tick, SERIES[s]!);
      lastValue[s] = value;
      logs[s]?.push(seq, value);
    }
  }
  return {
    seq,
    lastTs: ticks.at(-1)!.ts,
    lastValue,
    extrema: logs.map((log) => log?.export() ?? null),
  };
}
