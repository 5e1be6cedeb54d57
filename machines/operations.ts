import { echoId } from './echoId.ts';
import {
  FRACTION_EPSILON,
  bookLeg,
  close,
  closeUnfilled,
  catchUpInPlace,
  slippedOut,
} from './evaluateTick.ts';
import type { AmendEvent, CancelEvent, ExitEvent } from './events.ts';
import { cloneContext, type SignalContext } from './signalContext.ts';

/** A manual exit price further than this from the last exit trigger price needs `force` (SPEC.md). */
export const MAX_EXIT_DISTANCE = 0.2;

/**
 * SPEC.md "Operations": why an operation cannot apply to this signal now, or [] when it can.
 * Field shapes are checked before (src/validation); this checks the operation against the
 * signal's state. `lastP` is the last exit trigger price, for a filled signal's amend.
 */
export function operationErrors(
  context: SignalContext,
  ev: ExitEvent | CancelEvent | AmendEvent,
  lastP: number | null,
): string[] {
  // Judge the operation against the signal as it stands after the ticks it has not seen yet
  // (a trailing stop may have moved on them).
  let ctx = context;
  if (ev.hi !== undefined) {
    ctx = cloneContext(context);
    catchUpInPlace(ctx, ev);
  }
  if (ctx.phase === 'closed') return [`signal ${echoId(ctx.id)} is already closed (${ctx.outcome})`];
  if (ev.ts < ctx.createdAt) {
    return [`ts ${ev.ts} is before the signal's createdAt ${ctx.createdAt}: it did not exist yet`];
  }
  if (ev.type === 'AMEND') return amendErrors(ctx, ev, lastP);
  if (ev.type === 'EXIT') return exitErrors(ctx, ev, lastP);
  return [];
}

function exitErrors(ctx: SignalContext, ev: ExitEvent, lastP: number | null): string[] {
  if (ctx.fill === null) {
    // On a pending signal exit is a cancel: there is no position to close a part of. A price
    // is ignored there (nothing is booked), so it is not checked against a price there is none of.
    return ev.fraction === undefined
      ? []
      : ['fraction: the signal has not filled; exit it without a fraction to cancel it'];
  }
  if (ev.price !== undefined && ev.force !== true && lastP !== null) {
    if (Math.abs(ev.price - lastP) > MAX_EXIT_DISTANCE * lastP) {
      return [
        `price: ${ev.price} is more than 2000 bps from the last exit trigger price ${lastP}` +
          ' (a likely mistake); send force: true to exit there anyway',
      ];
    }
  }
  return [];
}

function amendErrors(ctx: SignalContext, ev: AmendEvent, lastP: number | null): string[] {
  const errors: string[] = [];
  if (ev.stopLoss === undefined && (ev.takeProfits === undefined || ev.takeProfits.length === 0)) {
    return ['amend changes nothing: give stopLoss or takeProfits'];
  }
  const stop = ev.stopLoss?.price ?? ctx.stop;
  const tps = ctx.tpPrices.slice();
  let changes = ev.stopLoss !== undefined && ev.stopLoss.price !== ctx.stop;
  const seen = new Set<number>();
  for (const [i, tp] of (ev.takeProfits ?? []).entries()) {
    const k = tp.level;
    if (k < 1 || k > tps.length) {
      errors.push(`takeProfits[${i}].level: the signal has no TP ${k} (it has ${tps.length})`);
      continue;
    }
    if (seen.has(k)) errors.push(`takeProfits[${i}].level: TP ${k} is named twice`);
    seen.add(k);
    if (ctx.tpFilled[k - 1]) {
      errors.push(`takeProfits[${i}].level: TP ${k} has already filled`);
      continue;
    }
    if (tps[k - 1] !== tp.price) changes = true;
    tps[k - 1] = tp.price;
  }
  if (errors.length > 0) return errors;
  if (!changes) return ['amend changes nothing: every given level equals the current one'];

  // The resulting levels must keep their order: around the last exit trigger price once
  // filled, around the entry reference (if any) while pending.
  const open = tps.filter((_, k) => !ctx.tpFilled[k]);
  const pivot = ctx.fill !== null ? lastP : ctx.entryPrice;
  const pivotName = ctx.fill !== null ? `the last exit trigger price ${lastP}` : `the entry price ${pivot}`;
  const above = ctx.dir > 0 ? 'above' : 'below';
  const below = ctx.dir > 0 ? 'below' : 'above';
  if (stop !== null && pivot !== null && ctx.dir * (pivot - stop) <= 0) {
    errors.push(`stopLoss: ${stop} must be ${below} ${pivotName}`);
  }
  const firstOpen = open[0];
  if (firstOpen !== undefined && pivot !== null && ctx.dir * (firstOpen - pivot) <= 0) {
    errors.push(`takeProfits: the next unfilled TP ${firstOpen} must be ${above} ${pivotName}`);
  }
  if (stop !== null && firstOpen !== undefined && ctx.dir * (firstOpen - stop) <= 0) {
    errors.push(`stopLoss: ${stop} must be ${below} the next unfilled TP ${firstOpen}`);
  }
  for (let i = 1; i < open.length; i++) {
    if (ctx.dir * (open[i]! - open[i - 1]!) <= 0) {
      errors.push(
        `takeProfits: unfilled TPs must move ${above} one another (${open[i - 1]} then ${open[i]})`,
      );
    }
  }
  return errors;
}

/**
 * Exit (or cancel) of a filled signal, reason MANUAL: a `fraction` of the original position
 * (at most what remains), else the remainder. A given price is booked as it is; without one
 * the exit takes liquidity at the last exit trigger price, slipped.
 */
export function applyManualExit(ctx: SignalContext, ev: ExitEvent | CancelEvent): SignalContext {
  const c = cloneContext(ctx);
  catchUpInPlace(c, ev);
  const price = ev.type === 'EXIT' && ev.price !== undefined ? ev.price : slippedOut(c, c.lastP!);
  const wanted =
    ev.type === 'EXIT' && ev.fraction !== undefined ? Math.min(ev.fraction, c.remaining) : c.remaining;
  const closes = c.remaining - wanted <= FRACTION_EPSILON;
  bookLeg(c, { reason: 'MANUAL', price, fraction: closes ? c.remaining : wanted, ts: ev.ts });
  if (closes) return close(c, ev.ts);
  c.phase = 'partial';
  return c;
}

/** Cancel (or exit) of a pending signal. */
export function applyCancel(ctx: SignalContext, ev: ExitEvent | CancelEvent): SignalContext {
  return closeUnfilled(cloneContext(ctx), 'CANCELLED', ev.ts);
}

/** Moves the stop (kind `amended`) and unfilled TP prices; arm times are kept. */
export function applyAmend(ctx: SignalContext, ev: AmendEvent): SignalContext {
  const c = cloneContext(ctx);
  catchUpInPlace(c, ev);
  // Only a stop that moves becomes "amended": restating the current level changes nothing.
  if (ev.stopLoss !== undefined && ev.stopLoss.price !== c.stop) {
    c.stop = ev.stopLoss.price;
    c.stopKind = 'amended';
  }
  for (const tp of ev.takeProfits ?? []) c.tpPrices[tp.level - 1] = tp.price;
  return c;
}
