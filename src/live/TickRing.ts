import type { Tick } from '../../machines/types.ts';

/**
 * The recent ticks of one symbol, at most `capacity`, oldest dropped first: four parallel
 * Float64Arrays in a ring (32 bytes a tick, none of them an object the garbage collector has
 * to trace; a shard holds millions). A missing quote is NaN.
 */
export class TickRing {
  private readonly ts: Float64Array;
  private readonly price: Float64Array;
  private readonly bid: Float64Array;
  private readonly ask: Float64Array;
  private start = 0;
  length = 0;
  /** The time of the latest tick that fell out of the ring; null while none has. */
  droppedTs: number | null = null;

  constructor(readonly capacity: number) {
    this.ts = new Float64Array(capacity);
    this.price = new Float64Array(capacity);
    this.bid = new Float64Array(capacity);
    this.ask = new Float64Array(capacity);
  }

  /** A ring holding `ticks` (the last `capacity` of them). */
  static of(ticks: readonly Tick[], capacity: number): TickRing {
    const ring = new TickRing(capacity);
    for (const t of ticks) ring.push(t);
    ring.droppedTs = null; // what the list left out before is not known here
    return ring;
  }

  push(t: Tick): void {
    if (this.capacity === 0) return;
    if (this.length === this.capacity) {
      this.droppedTs = this.ts[this.start]!;
      this.start = (this.start + 1) % this.capacity;
      this.length--;
    }
    const i = (this.start + this.length) % this.capacity;
    this.ts[i] = t.ts;
    this.price[i] = t.price;
    this.bid[i] = t.bid ?? NaN;
    this.ask[i] = t.ask ?? NaN;
    this.length++;
  }

  /** The oldest tick's time, or undefined when empty. */
  firstTs(): number | undefined {
    return this.length === 0 ? undefined : this.ts[this.start];
  }

  /** The ticks with ts >= `from`, oldest first, as `symbol`'s ticks. */
  since(from: number, symbol: string): Tick[] {
    const out: Tick[] = [];
    for (let k = 0; k < this.length; k++) {
      const i = (this.start + k) % this.capacity;
      const ts = this.ts[i]!;
      if (ts < from) continue;
      const tick: Tick = { symbol, ts, price: this.price[i]! };
      if (!Number.isNaN(this.bid[i]!)) tick.bid = this.bid[i]!;
      if (!Number.isNaN(this.ask[i]!)) tick.ask = this.ask[i]!;
      out.push(tick);
    }
    return out;
  }
}
