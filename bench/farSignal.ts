import type { NormalizedSignal } from '../machines/signalContext.ts';

/**
 * An open long or short (a market entry) with two TPs 5–50 % and a stop 5–45 % away from
 * `p0`, a tenth trailing 5–45 % from their peak, and one in a thousand with every distance
 * twenty times smaller, so that a few trigger while a benchmark runs: the "levels spread so
 * that few trigger" signals of the engine and pipeline benchmarks.
 */
export function farSignal(
  id: string,
  i: number,
  symbol: string,
  p0: number,
  createdAt: number,
  rnd: () => number,
): NormalizedSignal {
  const side = i % 2 === 0 ? 'long' : 'short';
  const dir = side === 'long' ? 1 : -1;
  const near = i % 1000 === 7 ? 0.05 : 1;
  const away = (k: number): number => Math.round(p0 * (1 + dir * k * near) * 1e4) / 1e4;
  const s: NormalizedSignal = {
    v: 1,
    id,
    symbol,
    side,
    createdAt,
    entry: { type: 'market' },
    takeProfits: [
      { price: away(0.05 + 0.2 * rnd()), fraction: 0.5 },
      { price: away(0.3 + 0.2 * rnd()), fraction: 0.5 },
    ],
    stopLoss: { price: away(-(0.05 + 0.4 * rnd())) },
    breakevenOffsetBps: 0,
    toleranceBps: 0,
    confirmMs: 0,
    trigger: 'last',
    stopFill: 'trigger',
    feeBps: 1,
    slippageBps: 0,
    tenant: 'default',
  };
  if (i % 10 === 3) s.trailing = { distanceBps: 500 + 4000 * rnd(), activation: 'fill' };
  return s;
}
