/** Prices: the real IBM trade path, replicated. */
import type { NormalizedSignal } from '../../machines/signalContext.ts';
import type { Tick } from '../../machines/types.ts';
import { seededRandom } from '../../src/demo/generateSignals.ts';
import { readTicks } from '../../src/ticks/readTicks.ts';
import { farSignal } from '../farSignal.ts';

const IBM_TRADES = 'data/lean_usequity_IBM_trades_2013-10-07_11.csv.gz';
export const SYMBOLS = 500;

/**
 * 500 symbols' tick streams from one real path: symbol s reads the IBM trade prices from its
 * own offset on (wrapping around), times its own scale (log-uniform, about $9 to $1,800).
 * Ticks come round-robin over the symbols; tick g is symbol g mod 500 at time t0 + g ms, so a
 * stream is a pure function of g and any phase can start where another ended.
 */
export class TickStreams {
  readonly symbols: string[] = [];
  private readonly offset: Int32Array;
  private readonly scale: Float64Array;

  constructor(
    private readonly path: Float64Array,
    readonly t0: number,
    seed: number,
  ) {
    const rnd = seededRandom(seed);
    this.offset = new Int32Array(SYMBOLS);
    this.scale = new Float64Array(SYMBOLS);
    for (let s = 0; s < SYMBOLS; s++) {
      this.symbols.push(`X${String(s).padStart(3, '0')}`);
      this.offset[s] = Math.floor(rnd() * path.length);
      this.scale[s] = Math.exp(Math.log(0.05) + rnd() * Math.log(200));
    }
  }

  /** Symbol s's j-th price. */
  price(s: number, j: number): number {
    return Math.round(this.path[(this.offset[s]! + j) % this.path.length]! * this.scale[s]! * 1e4) / 1e4;
  }

  tick(g: number): Tick {
    const s = g % SYMBOLS;
    return { symbol: this.symbols[s]!, ts: this.t0 + g, price: this.price(s, (g - s) / SYMBOLS) };
  }

  take(g: number, n: number): Tick[] {
    const out = new Array<Tick>(n);
    for (let i = 0; i < n; i++) out[i] = this.tick(g + i);
    return out;
  }
}

export async function loadStreams(): Promise<TickStreams> {
  const prices: number[] = [];
  let t0 = 0;
  for await (const t of readTicks(IBM_TRADES)) {
    if (prices.length === 0) t0 = t.ts;
    prices.push(t.price);
  }
  return new TickStreams(Float64Array.from(prices), t0, 17);
}

export function farSignals(streams: TickStreams, count: number, tag: string): NormalizedSignal[] {
  const rnd = seededRandom(5);
  const out: NormalizedSignal[] = [];
  for (let i = 0; i < count; i++) {
    const s = i % SYMBOLS;
    out.push(farSignal(`${tag}${i}`, i, streams.symbols[s]!, streams.price(s, 0), streams.t0 - 1, rnd));
  }
  return out;
}
