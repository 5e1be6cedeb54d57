import type { SignalPayload, Tick } from '../../machines/types.ts';

/** A small, fast, seedable PRNG (mulberry32): the same seed gives the same signals everywhere. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GenerateOptions {
  count: number;
  seed: number;
  /** Id prefix, so that several sets can share a store. */
  prefix?: string;
  /** Scale of level distances, as a fraction of price (default 0.004: 0.4 %). */
  scale?: number;
  /**
   * Position values in quote currency (SPEC `notional`): this share of the signals carries one,
   * a round figure from `notionals`, drawn from a random stream of its own so that every other
   * field is the same with or without it. @defaultValue no notional
   */
  notional?: { share: number; values: readonly number[] };
}

/**
 * Varied, valid signals anchored on real ticks: each signal is created at a real tick's time
 * and its levels are placed around that tick's real price, so nothing is invented but the
 * distances. Every SPEC feature appears: the three entries, 0–3 TPs with fractions (with and
 * without a runner), breakeven, the three trailing activations, expiry, time limits,
 * tolerance, confirmation, the three trigger sources, both stop fills, fees, grouping keys
 * and confidence.
 */
export function generateSignals(anchors: readonly Tick[], options: GenerateOptions): SignalPayload[] {
  if (anchors.length === 0) throw new Error('generateSignals needs at least one anchor tick');
  const rnd = seededRandom(options.seed);
  const scale = options.scale ?? 0.004;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const round = (x: number): number => Number(x.toPrecision(8));
  const sizing = seededRandom(options.seed + 0x5eed);
  const out: SignalPayload[] = [];
  for (let i = 0; i < options.count; i++) {
    const anchor = anchors[Math.floor(rnd() * anchors.length)]!;
    const side = rnd() < 0.5 ? 'long' : 'short';
    const dir = side === 'long' ? 1 : -1;
    const p = anchor.price;
    const unit = p * scale * (0.25 + rnd());
    const kind = pick(['market', 'market', 'limit', 'limit', 'stop'] as const);
    const ref = kind === 'market' ? p : kind === 'limit' ? p - dir * unit * rnd() : p + dir * unit * rnd();
    const entry = kind === 'market' ? { type: 'market' as const } : { type: kind, price: round(ref) };
    const s: SignalPayload = {
      v: 1,
      id: `${options.prefix ?? 'sig'}-${String(i).padStart(5, '0')}`,
      symbol: anchor.symbol,
      side,
      createdAt: anchor.ts,
      entry,
    };
    const tpCount = pick([0, 1, 1, 2, 2, 3]);
    if (tpCount > 0) {
      const fractions =
        tpCount === 1
          ? [pick([1, 0.5])]
          : tpCount === 2
            ? pick([
                [0.5, 0.5],
                [0.5, 0.3],
              ])
            : [0.4, 0.3, 0.3];
      s.takeProfits = fractions.map((fraction, k) => ({
        price: round(ref + dir * unit * (1 + k + 0.9 * rnd())),
        fraction,
      }));
    }
    if (rnd() < 0.85) s.stopLoss = { price: round(ref - dir * unit * (0.6 + rnd())) };
    if (tpCount > 0 && rnd() < 0.3) {
      s.breakevenAfterTp = 1 + Math.floor(rnd() * tpCount);
      if (rnd() < 0.5) s.breakevenOffsetBps = pick([1, 5, 10]);
    }
    const trail = rnd();
    if (trail < 0.25) {
      const activation =
        trail < 0.1
          ? ('fill' as const)
          : trail < 0.18 || tpCount === 0
            ? { price: round(ref + dir * unit * 0.7) }
            : { afterTp: 1 };
      s.trailing = { distanceBps: round((unit / p) * 1e4 * (0.5 + rnd())), activation };
    }
    if (kind !== 'market' && rnd() < 0.5) s.entryExpiresAt = anchor.ts + pick([60_000, 600_000, 3_600_000]);
    if (rnd() < 0.35) s.timeLimitMs = pick([30_000, 300_000, 1_800_000, 14_400_000]);
    if (rnd() < 0.2) s.toleranceBps = pick([0.5, 1, 2]);
    if (rnd() < 0.2) s.confirmMs = pick([0, 500, 2_000, 10_000]);
    const trigger = pick(['last', 'last', 'bid_ask', 'mid'] as const);
    if (trigger !== 'last' || rnd() < 0.3) s.trigger = trigger;
    if (rnd() < 0.3) s.stopFill = pick(['trigger', 'level'] as const);
    if (rnd() < 0.5) s.feeBps = pick([0, 1, 2.5, 5]);
    s.strategy = pick(['breakout', 'mean-revert', 'momentum']);
    s.model = pick(['gbm', 'lstm']);
    s.modelVersion = pick(['1.0', '1.1', '2.0']);
    s.timeframe = pick(['1m', '5m', '1h']);
    if (rnd() < 0.7) s.confidence = round(0.3 + 0.6 * rnd());
    if (options.notional !== undefined && sizing() < options.notional.share) {
      const values = options.notional.values;
      s.notional = values[Math.floor(sizing() * values.length)]!;
    }
    out.push(s);
  }
  return out;
}

/** Every `step`-th tick of `ticks`: anchors spread over the data. */
export function spreadAnchors(ticks: readonly Tick[], count: number): Tick[] {
  const step = Math.max(1, Math.floor(ticks.length / count));
  const out: Tick[] = [];
  for (let i = 0; i < ticks.length && out.length < count; i += step) out.push(ticks[i]!);
  return out;
}
