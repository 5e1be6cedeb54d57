import type { SignalContext } from './signalContext.ts';

/** The return table (`roi`, docs/SPEC.md "Open / partial" step 4), as stages over holding time. */

/**
 * The index of the return-table entry in force after `heldMs` (the last with afterMs <=
 * heldMs), −1 when none is yet or the signal has no table.
 */
export function roiStageAt(c: SignalContext, heldMs: number): number {
  const after = c.roiAfterMs;
  if (after === null || after === undefined) return -1;
  let stage = -1;
  while (stage + 1 < after.length && after[stage + 1]! <= heldMs) stage++;
  return stage;
}

/** The price level of return-table entry `stage`: the fill moved by its return, in `dir`. */
export function roiLevel(c: SignalContext, stage: number): number {
  return c.fill!.price * (1 + (c.dir * c.roiReturnBps![stage]!) / 1e4);
}
