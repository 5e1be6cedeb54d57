/**
 * `syncSignal` (the index's catch-up without the machine) against the machine itself: for
 * signals driven over real IBM trades into every phase, with trailing stops among them, a SYNC
 * of any extremes gives the same context either way.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { SignalContext } from '../../machines/signalContext.ts';
import { sendToSignal, startSignal, syncSignal } from '../../machines/signalMachine.ts';
import type { Tick } from '../../machines/types.ts';
import { generateSignals, spreadAnchors } from '../../src/demo/generateSignals.ts';
import { readDataTicks } from '../support/dataFile.ts';
import { normalize } from '../support/runEngine.ts';

let ticks: Tick[] = [];
beforeAll(async () => {
  ticks = await readDataTicks('lean_usequity_IBM_trades_2013-10-07_11.csv.gz');
});

describe('syncSignal', () => {
  it('gives what the machine gives for a SYNC, in every phase, trailing stops included', () => {
    const signals = normalize(
      generateSignals(spreadAnchors(ticks, 200), { count: 200, seed: 7, prefix: 'sy' }),
    );
    const seen = new Set<string>();
    let trailing = 0;
    let compared = 0;
    for (const [n, signal] of signals.entries()) {
      let context: SignalContext = startSignal(signal);
      const from = ticks.findIndex((t) => t.ts >= signal.createdAt);
      if (from < 0) continue;
      for (let i = from; i < Math.min(ticks.length, from + 3000) && context.phase !== 'closed'; i++) {
        if (i % 97 === n % 97) {
          // The extremes of the next few ticks, as the index would fold them in.
          const ahead = ticks.slice(i, i + 1 + (i % 13)).map((t) => t.price);
          const catchUp = { hi: Math.max(...ahead), lo: Math.min(...ahead), last: ahead.at(-1)! };
          expect(syncSignal(context, catchUp), `${signal.id} at tick ${i}`).toEqual(
            sendToSignal(context, { type: 'SYNC', ...catchUp }),
          );
          compared++;
          seen.add(context.phase);
          if (context.trailActive) trailing++;
        }
        context = sendToSignal(context, { type: 'TICK', ts: ticks[i]!.ts, price: ticks[i]!.price });
      }
    }
    expect([...seen].sort(), 'phases compared').toEqual(['open', 'partial', 'pending']);
    expect(trailing, 'comparisons with an active trailing stop').toBeGreaterThan(10);
    expect(compared).toBeGreaterThan(1000);
  });
});
