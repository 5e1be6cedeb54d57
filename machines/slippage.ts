import type { SignalContext } from './signalContext.ts';

/** The booked price of a fill that takes liquidity at `p` into the position (SPEC.md "Slippage"). */
export function slippedIn(c: SignalContext, p: number): number {
  return p * (1 + (c.dir * (c.slippageBps ?? 0)) / 1e4);
}

/** The booked price of a fill that takes liquidity at `p` out of the position. */
export function slippedOut(c: SignalContext, p: number): number {
  return p * (1 - (c.dir * (c.slippageBps ?? 0)) / 1e4);
}
