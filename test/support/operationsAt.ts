import type { SignalPayload } from '../../machines/types.ts';
import { seededRandom } from '../../src/demo/generateSignals.ts';

/** Operations on `signals` at market time `ts` (all of one tick list): every kind, some bound to fail. */
export function operationsAt(
  signals: readonly SignalPayload[],
  ts: number,
  seed: number,
): Record<string, unknown>[] {
  const rnd = seededRandom(seed);
  const ops: Record<string, unknown>[] = [];
  for (const s of signals) {
    if (s.createdAt > ts || rnd() > 0.15) continue;
    const dir = s.side === 'long' ? 1 : -1;
    const kind = Math.floor(rnd() * 5);
    if (kind === 0) ops.push({ op: 'exit', id: s.id, ts });
    else if (kind === 1) ops.push({ op: 'cancel', id: s.id, ts });
    else if (kind === 2 && s.stopLoss)
      // Tighten the stop by a little: valid while the price is clear of it, rejected otherwise.
      ops.push({ op: 'amend', id: s.id, ts, stopLoss: { price: s.stopLoss.price * (1 + dir * 0.0005) } });
    else if (kind === 3 && s.takeProfits?.length)
      ops.push({
        op: 'amend',
        id: s.id,
        ts,
        takeProfits: [{ level: 1, price: s.takeProfits[0]!.price * (1 - dir * 0.0003) }],
      });
    else ops.push({ op: 'exit', id: s.id, ts, price: Number((s.stopLoss?.price ?? 100).toPrecision(6)) });
  }
  return ops;
}
