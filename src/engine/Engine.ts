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
  private readonly where = new Map<string, { book: SymbolBook; slot: number }>();
  private readonly hooks: SymbolBookHooks;

  constructor(hooks: SymbolBookHooks = {}) {
    this.hooks = {
      decode: hooks.decode,
      onChange: hooks.onChange,
      onClose: (context) => {
        this.where.delete(context.id);
        hooks.onClose?.(context);
      },
    };
  }

  /** Adds an open signal (new or restored). Its id must not be open already. */
  add(context: SignalContext): void {
    if (this.where.has(context.id)) throw new Error(`signal ${context.id} is already open`);
    const book = this.book(context.symbol);
    this.where.set(context.id, { book, slot: book.add(context) });
  }

  /** Adds a restored signal whose last event was at tick number `syncSeq` of its symbol. */
  addAt(context: SignalContext, syncSeq: number): void {
    if (this.where.has(context.id)) throw new Error(`signal ${context.id} is already open`);
    const book = this.book(context.symbol);
    this.where.set(context.id, { book, slot: book.add(context, syncSeq) });
  }

  /**
   * Adds a restored signal whose context is decoded when first needed (hooks.decode); false,
   * adding nothing, when its id is open already (a take-over's scan may return a record twice).
   */
  addDeferred(signal: DeferredSignal): boolean {
    if (this.where.has(signal.id)) return false;
    const book = this.book(signal.symbol);
    this.where.set(signal.id, { book, slot: book.addDeferred(signal) });
    return true;
  }

  has(id: string): boolean {
    return this.where.has(id);
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
    const at = this.where.get(op.id);
    // Callers that keep closed signals (replay, the shard runtime) say SIGNAL_CLOSED before this.
    if (at === undefined) return [signalUnknown(op.id)];
    return at.book.applyOperation(at.slot, toEvent(op));
  }

  /** An open signal with every applied tick folded in. */
  current(id: string): SignalContext | undefined {
    const at = this.where.get(id);
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
    return this.where.size;
  }
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
