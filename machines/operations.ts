import { echoId } from './echoId.ts';
import { FRACTION_EPSILON, bookLeg, close, closeUnfilled, catchUpInPlace } from './position.ts';
import { slippedOut } from './slippage.ts';
import type { AmendEvent, CancelEvent, ExitEvent } from './events.ts';
import { cloneContext, type SignalContext } from './signalContext.ts';
import { levelOrderErrors, type NamedLevel } from './levelOrder.ts';
import { trackerError, type TrackerError } from '../src/errors.ts';

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
): TrackerError[] {
  // Judge the operation against the signal as it stands after the ticks it has not seen yet
  // (a trailing stop may have moved on them).
  let ctx = context;
  if (ev.hi !== undefined) {
    ctx = cloneContext(context);
    catchUpInPlace(ctx, ev);
  }
  if (ctx.phase === 'closed') return [signalClosed(ctx.id)];
  if (ev.ts < ctx.createdAt) {
    return [
      trackerError(
        'OP_BEFORE_CREATED',
        `ts ${ev.ts} is before the signal's createdAt ${ctx.createdAt}: it did not exist yet`,
      ),
    ];
  }
  if (ev.type === 'AMEND') return amendErrors(ctx, ev, lastP);
  if (ev.type === 'EXIT') return exitErrors(ctx, ev, lastP);
  return [];
}

/** An operation on a signal that was never accepted: one message, in replay and live alike. */
export function signalUnknown(id: string): TrackerError {
  return trackerError('SIGNAL_UNKNOWN', `unknown signal ${echoId(id)}`);
}

/** An operation on a signal that has closed: one message, in replay and live alike. */
export function signalClosed(id: string): TrackerError {
  return trackerError('SIGNAL_CLOSED', `signal ${echoId(id)} is already closed`);
}

function exitErrors(ctx: SignalContext, ev: ExitEvent, lastP: number | null): TrackerError[] {
  if (ctx.fill === null) {
    // On a pending signal exit is a cancel: there is no position to close a part of. A price
    // is ignored there (nothing is booked), so it is not checked against a price there is none of.
    return ev.fraction === undefined
      ? []
      : [
          trackerError(
            'EXIT_FRACTION_PENDING',
            'fraction: the signal has not filled; exit it without a fraction to cancel it',
          ),
        ];
  }
  if (ev.price !== undefined && ev.force !== true && lastP !== null) {
    if (Math.abs(ev.price - lastP) > MAX_EXIT_DISTANCE * lastP) {
      return [
        trackerError(
          'EXIT_PRICE_FAR',
          `price: ${ev.price} is more than 2000 bps from the last exit trigger price ${lastP}` +
            ' (a likely mistake); send force: true to exit there anyway',
        ),
      ];
    }
  }
  return [];
}

function amendErrors(ctx: SignalContext, ev: AmendEvent, lastP: number | null): TrackerError[] {
  const errors: TrackerError[] = [];
  if (ev.stopLoss === undefined && (ev.takeProfits === undefined || ev.takeProfits.length === 0)) {
    return [trackerError('AMEND_NO_CHANGE', 'amend changes nothing: give stopLoss or takeProfits')];
  }
  const stop = ev.stopLoss?.price ?? ctx.stop;
  const tps = ctx.tpPrices.slice();
  /** TP level → the index in the amend that sets it, for messages. */
  const givenAt = new Map<number, number>();
  let changes = ev.stopLoss !== undefined && ev.stopLoss.price !== ctx.stop;
  for (const [i, tp] of (ev.takeProfits ?? []).entries()) {
    const k = tp.level;
    if (k < 1 || k > tps.length) {
      errors.push(
        trackerError(
          'TP_LEVEL_UNKNOWN',
          `takeProfits[${i}].level: the signal has no TP ${k} (it has ${tps.length})`,
        ),
      );
      continue;
    }
    if (givenAt.has(k))
      errors.push(trackerError('AMEND_TP_REPEATED', `takeProfits[${i}].level: TP ${k} is named twice`));
    givenAt.set(k, i);
    if (ctx.tpFilled[k - 1]) {
      errors.push(trackerError('AMEND_TP_FILLED', `takeProfits[${i}].level: TP ${k} has already filled`));
      continue;
    }
    if (tps[k - 1] !== tp.price) changes = true;
    tps[k - 1] = tp.price;
  }
  if (errors.length > 0) return errors;
  if (!changes) {
    return [
      trackerError('AMEND_NO_CHANGE', 'amend changes nothing: every given level equals the current one'),
    ];
  }

  // The resulting levels must keep their order: around the last exit trigger price once
  // filled, around the entry reference (if any) while pending.
  const pivot = ctx.fill !== null ? lastP : ctx.entryPrice;
  const pivotName = ctx.fill !== null ? 'the last exit trigger price' : 'the entry price';
  const open: NamedLevel[] = [];
  for (const [k, price] of tps.entries()) {
    if (ctx.tpFilled[k]) continue;
    const at = givenAt.get(k + 1);
    const name = `TP ${k + 1}`;
    open.push({ price, name, field: at === undefined ? name : `takeProfits[${at}].price` });
  }
  return levelOrderErrors({
    side: ctx.dir > 0 ? 'long' : 'short',
    pivot: pivot === null ? null : { price: pivot, field: pivotName, name: pivotName },
    stop: stop === null ? null : { price: stop, field: 'stopLoss', name: 'stopLoss' },
    takeProfits: open,
  });
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
