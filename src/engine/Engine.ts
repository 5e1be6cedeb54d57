import { signalUnknown } from '../../machines/operations.ts';
import type { SignalContext } from '../../machines/signalContext.ts';
import type { Operation, Tick } from '../../machines/types.ts';
import type { TrackerError } from '../errors.ts';
import { SymbolBook, type DeferredSignal, type OperationEvent, type SymbolBookHooks } from './SymbolBook.ts';

/**
 * The open signals of many symbols: one `SymbolBook` each, and where every open signal lives.
 * Used alike by `replay` and by the live tick workers (one Engine per shard), so that both
 * evaluate through the same machine and index.
 */
export class Engine {
  private readonly books = new Map<string, SymbolBook>();
  /** Where each open signal lives, by id: one map, or one a part ({@link IdParts}). */
  private readonly where: Map<string, Place>[];
  private readonly partOf: ((id: string) => number) | null;
  private open = 0;
  private readonly hooks: SymbolBookHooks;

  constructor(hooks: SymbolBookHooks = {}, parts?: IdParts) {
    this.where = Array.from({ length: parts?.count ?? 1 }, () => new Map<string, Place>());
    this.partOf = parts?.of ?? null;
    this.hooks = {
      decode: hooks.decode,
      onChange: hooks.onChange,
      onClose: (context) => {
        if (this.placesOf(context.id).delete(context.id)) this.open--;
        hooks.onClose?.(context);
      },
    };
  }

  /** The map that holds (or would hold) `id`. */
  private placesOf(id: string): Map<string, Place> {
    return this.partOf === null ? this.where[0]! : this.where[this.partOf(id)]!;
  }

  /** Adds an open signal (new or restored). Its id must not be open already. */
  add(context: SignalContext): void {
    const places = this.placesOf(context.id);
    if (places.has(context.id)) throw new Error(`signal ${context.id} is already open`);
    const book = this.book(context.symbol);
    places.set(context.id, { book, slot: book.add(context) });
    this.open++;
  }

  /** Adds a restored signal whose last event was at tick number `syncSeq` of its symbol. */
  addAt(context: SignalContext, syncSeq: number): void {
    const places = this.placesOf(context.id);
    if (places.has(context.id)) throw new Error(`signal ${context.id} is already open`);
    const book = this.book(context.symbol);
    places.set(context.id, { book, slot: book.add(context, syncSeq) });
    this.open++;
  }

  /**
   * Adds a restored signal whose context is decoded when first needed (hooks.decode); false,
   * adding nothing, when its id is open already (a take-over's scan may return a record twice).
   */
  addDeferred(signal: DeferredSignal): boolean {
    const places = this.placesOf(signal.id);
    if (places.has(signal.id)) return false;
    const book = this.book(signal.symbol);
    places.set(signal.id, { book, slot: book.addDeferred(signal) });
    this.open++;
    return true;
  }

  has(id: string): boolean {
    return this.placesOf(id).has(id);
  }

  /** The book of `symbol`, created on first use. */
  book(symbol: string): SymbolBook {
    let book = this.books.get(symbol);
    if (book === undefined) {
      book = new SymbolBook(symbol, this.hooks);
      this.books.set(symbol, book);
    }
    return book;
  }

  /** Applies a tick to its symbol's signals; false when late. */
  applyTick(tick: Tick): boolean {
    return this.book(tick.symbol).applyTick(tick);
  }

  /** Applies an operation; returns why it was rejected, or [] when applied. */
  applyOperation(op: Operation): TrackerError[] {
    const at = this.placesOf(op.id).get(op.id);
    // Callers that keep closed signals (replay, the shard runtime) say SIGNAL_CLOSED before this.
    if (at === undefined) return [signalUnknown(op.id)];
    return at.book.applyOperation(at.slot, toEvent(op));
  }

  /** An open signal with every applied tick folded in. */
  current(id: string): SignalContext | undefined {
    const at = this.placesOf(id).get(id);
    return at === undefined ? undefined : at.book.current(at.slot);
  }

  /** The symbol books. */
  symbolBooks(): IterableIterator<SymbolBook> {
    return this.books.values();
  }

  /** Ticks that arrived older than their symbol's latest applied one. */
  get lateTicks(): number {
    let n = 0;
    for (const book of this.books.values()) n += book.lateTicks;
    return n;
  }

  get openCount(): number {
    return this.open;
  }
}

/** An open signal's book and slot. */
interface Place {
  book: SymbolBook;
  slot: number;
}

/**
 * The id index split in parts: `of(id)` is the part of `id`, in `[0, count)`. The shard runtime
 * splits it as the signals' records are stored (their buckets), because a take-over reads and
 * files them one bucket at a time: it then fills one small map after another instead of one
 * large one that grows and is rehashed throughout (docs/BENCHMARKS.md, "the id index in parts").
 */
export interface IdParts {
  count: number;
  of(id: string): number;
}

/** The machine event of an operation. */
export function toEvent(op: Operation): OperationEvent {
  switch (op.op) {
    case 'exit': {
      const event: OperationEvent = { type: 'EXIT', ts: op.ts };
      if (op.price !== undefined) event.price = op.price;
      if (op.fraction !== undefined) event.fraction = op.fraction;
      if (op.force !== undefined) event.force = op.force;
      return event;
    }
    case 'cancel':
      return { type: 'CANCEL', ts: op.ts };
    case 'amend': {
      const event: OperationEvent = { type: 'AMEND', ts: op.ts };
      if (op.stopLoss !== undefined) event.stopLoss = op.stopLoss;
      if (op.takeProfits !== undefined) event.takeProfits = op.takeProfits;
      return event;
    }
  }
}
