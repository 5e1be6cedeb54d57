/**
 * What the dashboard's price chart draws for one signal (docs/DASHBOARD.md "A signal on its
 * price chart"): the symbol's recent ticks around the signal's life, its entry, take-profit and
 * stop levels, the stop as a stepped line over time, and its legs. Pure: the route reads the
 * stored payload, the outcome line, the signal's events and the shard's recent ticks, and hands
 * them here.
 */
import type { OutcomeLine, Tick } from '../../../machines/types.ts';
import type { TrackerEvent } from '../../events/TrackerEvent.ts';

/** One step of the stop: from `ts` on, the stop was at `price`. */
export interface StopStep {
  ts: number;
  price: number;
  /** initial, breakeven, trailing, amended (SPEC.md), or as the event named it. */
  kind: string;
}

/** The levels of one signal and the ticks to draw them over. */
export interface SignalLevels {
  id: string;
  symbol: string;
  side: 'long' | 'short';
  state: string;
  outcome: string | null;
  /** Epoch ms. */
  createdAt: number;
  closedAt: number | null;
  entry: { type: string; price: number | null };
  fill: { ts: number; price: number } | null;
  takeProfits: { level: number; price: number; fraction: number }[];
  /** The stop over time, oldest first; empty for a signal without a stop. */
  stops: StopStep[];
  legs: {
    ts: number;
    price: number;
    reason: string;
    level: number | null;
    fraction: number;
    stopKind: string | null;
  }[];
  /** Ticks (epoch ms, price), oldest first, at most `maxTicks` (evenly thinned beyond). */
  ticks: { ts: number; price: number }[];
  /** Ticks of the symbol the shard's buffer held in the signal's span, before thinning. */
  ticksInSpan: number;
  /**
   * The oldest tick the buffer holds for the symbol (null: none). After the signal was made it
   * may be that older ticks were dropped from the buffer (TICK_BUFFER_SIZE), or that none came.
   */
  bufferFrom: number | null;
}

export interface SignalLevelsInput {
  id: string;
  symbol: string;
  /** The stored payload (SPEC.md "Signal"). */
  payload: Record<string, unknown>;
  line: OutcomeLine;
  /** The signal's events from the stream, any order. */
  events: readonly TrackerEvent[];
  /** The symbol's recent ticks from its shard, any order. */
  ticks: readonly Tick[];
  /** Most ticks returned. @defaultValue 4000 */
  maxTicks?: number;
}

const numberOr = (x: unknown, fallback: number | null): number | null =>
  typeof x === 'number' && Number.isFinite(x) ? x : fallback;

/** The levels and ticks of one signal. */
export function signalLevels(input: SignalLevelsInput): SignalLevels {
  const p = input.payload;
  const line = input.line;
  const createdAt = numberOr(p.createdAt, 0)!;
  const entryRaw = (p.entry ?? {}) as { type?: unknown; price?: unknown };
  const entry = {
    type: typeof entryRaw.type === 'string' ? entryRaw.type : 'market',
    price: numberOr(entryRaw.price, null),
  };
  const tps = Array.isArray(p.takeProfits)
    ? (p.takeProfits as { price?: unknown; fraction?: unknown }[])
    : [];
  const takeProfits = tps.flatMap((tp, k) => {
    const price = numberOr(tp.price, null);
    return price === null ? [] : [{ level: k + 1, price, fraction: numberOr(tp.fraction, 0)! }];
  });

  const events = [...input.events].sort((a, b) => a.ts - b.ts);
  const stops: StopStep[] = [];
  const initial = numberOr((p.stopLoss as { price?: unknown } | undefined)?.price, null);
  if (initial !== null) stops.push({ ts: createdAt, price: initial, kind: 'initial' });
  for (const e of events) {
    if (e.type === 'signal.filled') {
      const at = numberOr(e.data.initialStop, null);
      if (at !== null && at !== stops.at(-1)?.price) stops.push({ ts: e.ts, price: at, kind: 'initial' });
    } else if (e.type === 'signal.stop_moved') {
      const at = numberOr(e.data.stop, null);
      if (at !== null) stops.push({ ts: e.ts, price: at, kind: String(e.data.stopKind ?? 'moved') });
    }
  }
  const closedAt = line.closedAt ?? null;
  const sorted = [...input.ticks].sort((a, b) => a.ts - b.ts);
  const last = sorted.at(-1)?.ts ?? createdAt;
  const endAt = closedAt ?? Math.max(last, createdAt);
  // A margin on either side of the signal's life, so the levels sit in their context.
  const pad = Math.max(60_000, Math.round((endAt - createdAt) * 0.15));
  const inSpan = sorted.filter((t) => t.ts >= createdAt - pad && t.ts <= endAt + pad);
  const maxTicks = input.maxTicks ?? 4000;
  const ticks =
    inSpan.length <= maxTicks
      ? inSpan
      : Array.from(
          { length: maxTicks },
          (_, k) => inSpan[Math.floor((k * (inSpan.length - 1)) / (maxTicks - 1))]!,
        );

  return {
    id: input.id,
    symbol: input.symbol,
    side: p.side === 'short' ? 'short' : 'long',
    state: line.state,
    outcome: line.outcome ?? null,
    createdAt,
    closedAt,
    entry,
    fill: line.fill ?? null,
    takeProfits,
    stops,
    legs: line.legs.map((l) => ({
      ts: l.ts,
      price: l.price,
      reason: l.reason,
      level: l.level ?? null,
      fraction: l.fraction,
      stopKind: l.stopKind ?? null,
    })),
    ticks: ticks.map((t) => ({ ts: t.ts, price: t.price })),
    ticksInSpan: inSpan.length,
    bufferFrom: sorted[0]?.ts ?? null,
  };
}
