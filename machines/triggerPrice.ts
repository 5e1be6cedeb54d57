import type { Tick, TriggerSource } from './types.ts';

/**
 * The price series a level can be compared with. `bid_ask` resolves to `bid` or `ask`
 * depending on side and on whether the signal is entering or exiting (SPEC.md "Trigger price").
 */
export type Series = 'last' | 'bid' | 'ask' | 'mid';

export const SERIES: readonly Series[] = ['last', 'bid', 'ask', 'mid'];

/** The series a pending signal's entry is checked against. */
export function entrySeries(trigger: TriggerSource, dir: 1 | -1): Series {
  if (trigger === 'bid_ask') return dir > 0 ? 'ask' : 'bid';
  return trigger;
}

/** The series a filled signal's exits (stop, TPs, trailing, excursions) are checked against. */
export function exitSeries(trigger: TriggerSource, dir: 1 | -1): Series {
  if (trigger === 'bid_ask') return dir > 0 ? 'bid' : 'ask';
  return trigger;
}

/** The value of `series` on `tick`; a missing quote falls back to the last price. */
export function seriesPrice(tick: Pick<Tick, 'price' | 'bid' | 'ask'>, series: Series): number {
  switch (series) {
    case 'last':
      return tick.price;
    case 'bid':
      return tick.bid ?? tick.price;
    case 'ask':
      return tick.ask ?? tick.price;
    case 'mid':
      return tick.bid !== undefined && tick.ask !== undefined ? (tick.bid + tick.ask) / 2 : tick.price;
  }
}
