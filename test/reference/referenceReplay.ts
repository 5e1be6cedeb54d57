/**
 * Reference replay: a deliberately plain, slow reading of docs/SPEC.md.
 *
 * It exists only to check the production engine (machines/, src/) against an independent
 * implementation, so it imports nothing from there but the shared types, and it never
 * indexes, caches or short-circuits: every applied tick visits every signal and runs the
 * SPEC steps in the order they are written. Where SPEC is silent it follows the decisions
 * listed in the brief for this file (key sets per state, leg shapes, op routing…).
 */
import type {
  Leg,
  Operation,
  OutcomeCode,
  OutcomeLine,
  SignalPayload,
  SignalState,
  StopKind,
  Tick,
} from '../../machines/types.ts';

/** Result of a reference replay; same shape as the production replay's. */
export interface ReferenceReplayResult {
  lines: OutcomeLine[];
  rejectedOps: { op: unknown; errors: string[] }[];
  lateTicks: number;
}

/** A remaining fraction at or below this counts as nothing left (SPEC "Take profits"). */
const REMAINDER_EPSILON = 1e-9;

/** SPEC "Comparing prices with levels": relative slack when a price meets a level. */
const LEVEL_SLACK = 1e-12;

/** `p >= x` in SPEC's level sense. */
function geLevel(p: number, x: number): boolean {
  return p >= x - LEVEL_SLACK * x;
}

/** `p <= x` in SPEC's level sense. */
function leLevel(p: number, x: number): boolean {
  return p <= x + LEVEL_SLACK * x;
}

interface TpState {
  price: number;
  fraction: number;
  filled: boolean;
  armedAt: number | null;
}

/** Everything the reference tracks for one signal, mutated in place tick by tick. */
interface RefSignal {
  payload: SignalPayload;
  symbol: string;
  dir: 1 | -1;
  toleranceFactor: number;
  confirmMs: number;
  state: SignalState;
  outcome: OutcomeCode | null;
  seenFirstTick: boolean;
  fill: { ts: number; price: number } | null;
  stop: number | null;
  stopKind: StopKind;
  stopArmedAt: number | null;
  initialStop: number | null;
  tps: TpState[];
  remaining: number;
  legs: Leg[];
  mfe: number;
  mae: number;
  lastExitP: number | null;
  trailingActive: boolean;
  trailingPeak: number;
  closedAt: number | null;
  /** slippageBps / 1e4. */
  slip: number;
}

function createRefSignal(payload: SignalPayload): RefSignal {
  return {
    payload,
    symbol: payload.symbol.toUpperCase(),
    dir: payload.side === 'long' ? 1 : -1,
    toleranceFactor: (payload.toleranceBps ?? 0) / 1e4,
    confirmMs: payload.confirmMs ?? 0,
    state: 'pending',
    outcome: null,
    seenFirstTick: false,
    fill: null,
    stop: payload.stopLoss ? payload.stopLoss.price : null,
    stopKind: 'initial',
    stopArmedAt: null,
    initialStop: null,
    tps: (payload.takeProfits ?? []).map((tp) => ({
      price: tp.price,
      fraction: tp.fraction,
      filled: false,
      armedAt: null,
    })),
    remaining: 1,
    legs: [],
    mfe: 0,
    mae: 0,
    lastExitP: null,
    trailingActive: false,
    trailingPeak: 0,
    closedAt: null,
    slip: (payload.slippageBps ?? 0) / 1e4,
  };
}

// ---------------------------------------------------------------------------------------------
// Trigger prices (SPEC "Trigger price")

function midOrPrice(tick: Tick): number {
  return tick.bid !== undefined && tick.ask !== undefined ? (tick.bid + tick.ask) / 2 : tick.price;
}

function entryTriggerPrice(sig: RefSignal, tick: Tick): number {
  const trigger = sig.payload.trigger ?? 'last';
  if (trigger === 'mid') return midOrPrice(tick);
  if (trigger === 'bid_ask') return sig.dir === 1 ? (tick.ask ?? tick.price) : (tick.bid ?? tick.price);
  return tick.price;
}

function exitTriggerPrice(sig: RefSignal, tick: Tick): number {
  const trigger = sig.payload.trigger ?? 'last';
  if (trigger === 'mid') return midOrPrice(tick);
  if (trigger === 'bid_ask') return sig.dir === 1 ? (tick.bid ?? tick.price) : (tick.ask ?? tick.price);
  return tick.price;
}

// ---------------------------------------------------------------------------------------------
// Touching and confirmation (SPEC "Open / partial")

function stopTouched(sig: RefSignal, level: number, p: number): boolean {
  const t = sig.toleranceFactor;
  return sig.dir === 1 ? leLevel(p, level * (1 + t)) : geLevel(p, level * (1 - t));
}

function tpTouched(sig: RefSignal, level: number, p: number): boolean {
  const t = sig.toleranceFactor;
  return sig.dir === 1 ? geLevel(p, level * (1 - t)) : leLevel(p, level * (1 + t));
}

/**
 * One confirmation step for one level. Returns the new arm time and whether the level fills.
 * Arming and filling happen on the same tick when confirmMs is 0.
 */
function confirm(
  armedAt: number | null,
  touched: boolean,
  ts: number,
  confirmMs: number,
): { armedAt: number | null; fills: boolean } {
  if (!touched) return { armedAt: null, fills: false };
  const armed = armedAt ?? ts;
  return { armedAt: armed, fills: ts - armed >= confirmMs };
}

/** Long: a higher stop is tighter; short: a lower one. A missing stop is tightened by anything. */
function tightens(sig: RefSignal, candidate: number): boolean {
  if (sig.stop === null) return true;
  return sig.dir === 1 ? candidate > sig.stop : candidate < sig.stop;
}

function updateExcursions(sig: RefSignal, p: number): void {
  const entry = (sig.fill as { price: number }).price;
  const move = (sig.dir * (p - entry)) / entry;
  sig.mfe = Math.max(sig.mfe, move);
  // A short at its entry price moves by -1 * 0 = -0; keep mae a plain 0 so that deep equality
  // (Object.is) against 0 holds and JSON stays the same.
  sig.mae = Math.min(sig.mae, move) || 0;
}

function close(sig: RefSignal, outcome: OutcomeCode, closedAt: number): void {
  sig.state = 'closed';
  sig.outcome = outcome;
  sig.closedAt = closedAt;
}

const OUTCOME_BY_LAST_LEG: Record<Leg['reason'], OutcomeCode> = {
  TP: 'TP_HIT',
  SL: 'SL_HIT',
  ROI: 'ROI_EXIT',
  TIME: 'TIME_EXIT',
  MANUAL: 'MANUAL_EXIT',
};

/** SPEC "Slippage": a fill taking liquidity at `p` into the position. */
function slipIn(sig: RefSignal, p: number): number {
  return p * (1 + sig.dir * sig.slip);
}

/** SPEC "Slippage": a fill taking liquidity at `p` out of the position. */
function slipOut(sig: RefSignal, p: number): number {
  return p * (1 - sig.dir * sig.slip);
}

/** Books the whole remainder as the closing leg and closes with the outcome of that leg. */
function closeRemainder(sig: RefSignal, leg: Omit<Leg, 'fraction' | 'ts'>, ts: number): void {
  const fraction = sig.remaining;
  sig.legs.push(legWithOrderedKeys({ ...leg, fraction, ts }));
  sig.remaining -= fraction;
  close(sig, OUTCOME_BY_LAST_LEG[leg.reason], ts);
}

/** Leg key order: reason, level | stopKind, price, fraction, ts. */
function legWithOrderedKeys(leg: Leg): Leg {
  if (leg.reason === 'TP') {
    return { reason: 'TP', level: leg.level, price: leg.price, fraction: leg.fraction, ts: leg.ts };
  }
  if (leg.reason === 'SL') {
    return { reason: 'SL', stopKind: leg.stopKind, price: leg.price, fraction: leg.fraction, ts: leg.ts };
  }
  return { reason: leg.reason, price: leg.price, fraction: leg.fraction, ts: leg.ts };
}

// ---------------------------------------------------------------------------------------------
// Pending (SPEC "Pending (entry)")

function applyEntryTick(sig: RefSignal, tick: Tick): void {
  const isFirstTick = !sig.seenFirstTick;
  sig.seenFirstTick = true;
  const payload = sig.payload;

  // 1. Expiry.
  if (payload.entryExpiresAt !== undefined && tick.ts >= payload.entryExpiresAt) {
    close(sig, 'EXPIRED', tick.ts);
    return;
  }

  // 2. Fill.
  const p = entryTriggerPrice(sig, tick);
  let fillPrice: number | null = null;
  const entry = payload.entry;
  if (entry.type === 'market') {
    fillPrice = slipIn(sig, p);
  } else if (entry.type === 'limit') {
    const reached = sig.dir === 1 ? leLevel(p, entry.price) : geLevel(p, entry.price);
    if (reached) {
      if (!isFirstTick) {
        fillPrice = entry.price;
      } else {
        // Marketable: slipped, capped at the limit.
        const slipped = slipIn(sig, p);
        fillPrice = sig.dir === 1 ? Math.min(slipped, entry.price) : Math.max(slipped, entry.price);
      }
    }
  } else {
    const reached = sig.dir === 1 ? geLevel(p, entry.price) : leLevel(p, entry.price);
    if (reached) fillPrice = slipIn(sig, p);
  }
  if (fillPrice === null) return;
  sig.fill = { ts: tick.ts, price: fillPrice };

  // 3. Fill at or beyond the stop or the first TP.
  const tp1 = sig.tps[0];
  const beyondStop =
    sig.stop !== null && (sig.dir === 1 ? leLevel(fillPrice, sig.stop) : geLevel(fillPrice, sig.stop));
  const beyondTp1 =
    tp1 !== undefined && (sig.dir === 1 ? geLevel(fillPrice, tp1.price) : leLevel(fillPrice, tp1.price));
  if (beyondStop || beyondTp1) {
    close(sig, 'INVALID_AT_FILL', tick.ts);
    return;
  }

  sig.state = 'open';
  sig.initialStop = sig.stop;
  const exitP = exitTriggerPrice(sig, tick);
  sig.lastExitP = exitP;
  updateExcursions(sig, exitP);

  // Trailing from the fill: in force now, peak = the booked fill price.
  const trailing = payload.trailing;
  if (trailing !== undefined && trailing.activation === 'fill') {
    sig.trailingActive = true;
    sig.trailingPeak = fillPrice;
    const d = trailing.distanceBps / 1e4;
    const candidate = sig.dir === 1 ? fillPrice * (1 - d) : fillPrice * (1 + d);
    if (tightens(sig, candidate)) {
      sig.stop = candidate;
      sig.stopKind = 'trailing';
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Open / partial (SPEC "Open / partial (exits)")

function applyExitTick(sig: RefSignal, tick: Tick): void {
  const payload = sig.payload;
  const fill = sig.fill as { ts: number; price: number };
  const ts = tick.ts;
  const p = exitTriggerPrice(sig, tick);
  sig.lastExitP = p;

  // 1. Excursions.
  updateExcursions(sig, p);

  // 2. Stop.
  const stopTouchedNow = sig.stop !== null && stopTouched(sig, sig.stop, p);
  const stopStep = confirm(sig.stopArmedAt, stopTouchedNow, ts, sig.confirmMs);
  sig.stopArmedAt = stopStep.armedAt;
  if (stopStep.fills && sig.stop !== null) {
    const price = (payload.stopFill ?? 'trigger') === 'level' ? sig.stop : slipOut(sig, p);
    closeRemainder(sig, { reason: 'SL', stopKind: sig.stopKind, price }, ts);
    return;
  }

  // 3. Take profits, unfilled ones in index order.
  for (let i = 0; i < sig.tps.length; i++) {
    const tp = sig.tps[i] as TpState;
    if (tp.filled) continue;
    const step = confirm(tp.armedAt, tpTouched(sig, tp.price, p), ts, sig.confirmMs);
    tp.armedAt = step.armedAt;
    if (!step.fills) continue;

    const level = i + 1;
    const fraction = sig.remaining - tp.fraction <= REMAINDER_EPSILON ? sig.remaining : tp.fraction;
    sig.legs.push(legWithOrderedKeys({ reason: 'TP', level, price: tp.price, fraction, ts }));
    sig.remaining -= fraction;
    tp.filled = true;
    sig.state = 'partial';

    if (payload.breakevenAfterTp === level) {
      const candidate = fill.price * (1 + (sig.dir * (payload.breakevenOffsetBps ?? 0)) / 1e4);
      if (tightens(sig, candidate)) {
        sig.stop = candidate;
        sig.stopKind = 'breakeven';
      }
    }
    const activation = payload.trailing?.activation;
    if (typeof activation === 'object' && 'afterTp' in activation && activation.afterTp === level) {
      sig.trailingActive = true;
      sig.trailingPeak = p;
    }
    if (sig.remaining <= REMAINDER_EPSILON) {
      close(sig, 'TP_HIT', ts);
      return;
    }
  }

  // 4. Return table: the last entry whose afterMs has passed.
  if (payload.roi !== undefined) {
    let inForce: { afterMs: number; returnBps: number } | undefined;
    for (const row of payload.roi) if (row.afterMs <= ts - fill.ts) inForce = row;
    if (inForce !== undefined) {
      const level = fill.price * (1 + (sig.dir * inForce.returnBps) / 1e4);
      const reached = sig.dir === 1 ? geLevel(p, level) : leLevel(p, level);
      if (reached) {
        closeRemainder(sig, { reason: 'ROI', price: slipOut(sig, p) }, ts);
        return;
      }
    }
  }

  // 5. Time.
  if (payload.timeLimitMs !== undefined && ts >= fill.ts + payload.timeLimitMs) {
    closeRemainder(sig, { reason: 'TIME', price: slipOut(sig, p) }, ts);
    return;
  }

  // 6. Trailing.
  const trailing = payload.trailing;
  if (trailing !== undefined) {
    if (!sig.trailingActive) {
      const activation = trailing.activation;
      // "fill" was activated at the fill; afterTp in step 3.
      if (activation !== 'fill' && 'price' in activation) {
        const reached = sig.dir === 1 ? geLevel(p, activation.price) : leLevel(p, activation.price);
        if (reached) {
          sig.trailingActive = true;
          sig.trailingPeak = p;
        }
      }
    }
    if (sig.trailingActive) {
      const d = trailing.distanceBps / 1e4;
      let candidate: number;
      if (sig.dir === 1) {
        sig.trailingPeak = Math.max(sig.trailingPeak, p);
        candidate = sig.trailingPeak * (1 - d);
      } else {
        sig.trailingPeak = Math.min(sig.trailingPeak, p);
        candidate = sig.trailingPeak * (1 + d);
      }
      if (tightens(sig, candidate)) {
        sig.stop = candidate;
        sig.stopKind = 'trailing';
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Operations (SPEC "Operations")

const OP_FIELDS: Record<string, readonly string[]> = {
  exit: ['op', 'id', 'ts', 'price', 'fraction', 'force'],
  cancel: ['op', 'id', 'ts'],
  amend: ['op', 'id', 'ts', 'stopLoss', 'takeProfits'],
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPositivePrice(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/** Shape errors of an operation, independent of the signal's state. */
function shapeErrors(raw: unknown): string[] {
  if (!isPlainObject(raw)) return ['operation: must be an object'];
  const errors: string[] = [];
  const kind = raw.op;
  const allowed = typeof kind === 'string' ? OP_FIELDS[kind] : undefined;
  if (!('op' in raw)) errors.push('op: required');
  else if (allowed === undefined) errors.push('op: must be "exit", "cancel" or "amend"');
  if (!('id' in raw)) errors.push('id: required');
  else if (typeof raw.id !== 'string') errors.push('id: must be a string');
  if (!('ts' in raw)) errors.push('ts: required');
  else if (typeof raw.ts !== 'number' || !Number.isInteger(raw.ts)) errors.push('ts: must be an integer');
  else if (raw.ts < 0 || raw.ts > 8.64e15) errors.push('ts: must lie in [0, 8.64e15]');
  if (allowed !== undefined) {
    for (const key of Object.keys(raw)) {
      if (!allowed.includes(key)) errors.push(`${key}: unknown field`);
    }
  }
  if (kind === 'exit' && 'price' in raw && !isPositivePrice(raw.price)) {
    errors.push('price: must be a finite number > 0');
  }
  if (kind === 'exit' && 'fraction' in raw) {
    const f = raw.fraction;
    if (typeof f !== 'number' || !(f > 0 && f <= 1)) errors.push('fraction: must be in (0, 1]');
  }
  if (kind === 'exit' && 'force' in raw && typeof raw.force !== 'boolean') {
    errors.push('force: must be a boolean');
  }
  if (kind === 'amend') {
    if ('stopLoss' in raw) {
      const stopLoss = raw.stopLoss;
      if (!isPlainObject(stopLoss)) {
        errors.push('stopLoss: must be an object {price}');
      } else {
        if (!isPositivePrice(stopLoss.price)) errors.push('stopLoss.price: must be a finite number > 0');
        for (const key of Object.keys(stopLoss)) {
          if (key !== 'price') errors.push(`stopLoss.${key}: unknown field`);
        }
      }
    }
    if ('takeProfits' in raw) {
      const tps = raw.takeProfits;
      if (!Array.isArray(tps)) {
        errors.push('takeProfits: must be an array of {level, price}');
      } else {
        const seen = new Set<number>();
        tps.forEach((tp: unknown, i) => {
          const at = `takeProfits[${i}]`;
          if (!isPlainObject(tp)) {
            errors.push(`${at}: must be an object {level, price}`);
            return;
          }
          const level = tp.level;
          if (typeof level !== 'number' || !Number.isInteger(level) || level < 1) {
            errors.push(`${at}.level: must be an integer >= 1`);
          } else if (seen.has(level)) {
            errors.push(`${at}.level: level ${level} named twice`);
          } else {
            seen.add(level);
          }
          if (!isPositivePrice(tp.price)) errors.push(`${at}.price: must be a finite number > 0`);
          for (const key of Object.keys(tp)) {
            if (key !== 'level' && key !== 'price') errors.push(`${at}.${key}: unknown field`);
          }
        });
      }
    }
  }
  return errors;
}

/** Strictly ascending in the favourable direction. */
function strictlyOrdered(dir: 1 | -1, values: number[]): boolean {
  for (let i = 1; i < values.length; i++) {
    const prev = values[i - 1] as number;
    const cur = values[i] as number;
    if (!(dir * (cur - prev) > 0)) return false;
  }
  return true;
}

type AmendOp = Extract<Operation, { op: 'amend' }>;

/** Validates an amend against the signal's state; applies it when valid, else returns the reasons. */
function applyAmend(sig: RefSignal, op: AmendOp): string[] {
  const errors: string[] = [];
  const newTpPrices = sig.tps.map((tp) => tp.price);
  for (const { level, price } of op.takeProfits ?? []) {
    const tp = sig.tps[level - 1];
    if (tp === undefined) errors.push(`takeProfits: level ${level} does not exist`);
    else if (tp.filled) errors.push(`takeProfits: level ${level} already filled`);
    else newTpPrices[level - 1] = price;
  }
  if (errors.length > 0) return errors;

  const newStop = op.stopLoss !== undefined ? op.stopLoss.price : sig.stop;
  const stopMoves = op.stopLoss !== undefined && op.stopLoss.price !== sig.stop;
  const tpMoves = newTpPrices.some((price, i) => price !== sig.tps[i]?.price);
  if (!stopMoves && !tpMoves) return ['amend changes nothing'];

  // The order the result must keep: stop, reference, then the TPs still to fill.
  const dir = sig.dir;
  const unfilledTps = newTpPrices.filter((_, i) => !(sig.tps[i] as TpState).filled);
  let reference: number | null;
  let referenceName: string;
  if (sig.state === 'pending') {
    const entry = sig.payload.entry;
    reference = entry.type === 'market' ? null : entry.price;
    referenceName = 'the entry price';
  } else {
    reference = sig.lastExitP;
    referenceName = 'the last exit trigger price';
  }
  const below = dir === 1 ? 'below' : 'above';
  const above = dir === 1 ? 'above' : 'below';
  if (newStop !== null && reference !== null && !(dir * (reference - newStop) > 0)) {
    errors.push(`stopLoss: must be ${below} ${referenceName} ${reference}`);
  }
  const firstTp = unfilledTps[0];
  if (firstTp !== undefined) {
    if (reference !== null && !(dir * (firstTp - reference) > 0)) {
      errors.push(`takeProfits: must be ${above} ${referenceName} ${reference}`);
    }
    if (newStop !== null && reference === null && !(dir * (firstTp - newStop) > 0)) {
      errors.push(`takeProfits: must be ${above} the stop ${newStop}`);
    }
  }
  if (!strictlyOrdered(dir, unfilledTps)) {
    errors.push(`takeProfits: unfilled levels must move strictly away from entry, ${above} each other`);
  }
  if (errors.length > 0) return errors;

  if (stopMoves) {
    sig.stop = newStop;
    sig.stopKind = 'amended';
  }
  newTpPrices.forEach((price, i) => {
    (sig.tps[i] as TpState).price = price;
  });
  return [];
}

/** A manual exit of a filled signal (SPEC "exit"): a fraction of the original position, or the rest. */
function manualExit(
  sig: RefSignal,
  ts: number,
  price: number | undefined,
  fraction: number | undefined,
): void {
  const booked = price ?? slipOut(sig, sig.lastExitP as number);
  if (fraction === undefined) {
    closeRemainder(sig, { reason: 'MANUAL', price: booked }, ts);
    return;
  }
  const part = Math.min(fraction, sig.remaining);
  if (sig.remaining - part <= REMAINDER_EPSILON) {
    closeRemainder(sig, { reason: 'MANUAL', price: booked }, ts);
    return;
  }
  sig.legs.push(legWithOrderedKeys({ reason: 'MANUAL', price: booked, fraction: part, ts }));
  sig.remaining -= part;
  sig.state = 'partial';
}

/** Applies one well-formed operation to its signal; returns the rejection reasons, if any. */
function applyOperation(sig: RefSignal, op: Operation): string[] {
  const errors: string[] = [];
  if (op.ts < sig.payload.createdAt) errors.push(`ts: ${op.ts} is before the signal's createdAt`);
  if (sig.state === 'closed') errors.push('signal already closed');
  if (errors.length > 0) return errors;

  if (op.op === 'amend') return applyAmend(sig, op);
  if (sig.state === 'pending') {
    if (op.op === 'exit' && op.fraction !== undefined) return ['fraction: not on a pending signal'];
    // exit on a pending signal is a cancel (its price, if any, has nothing to close).
    close(sig, 'CANCELLED', op.ts);
    return [];
  }
  if (op.op === 'cancel') {
    // cancel on a filled signal is an exit of the rest at the last exit trigger price.
    manualExit(sig, op.ts, undefined, undefined);
    return [];
  }
  const last = sig.lastExitP as number;
  if (op.price !== undefined && op.force !== true && Math.abs(op.price - last) > 0.2 * last) {
    return ['price: more than 2000 bps from the last exit trigger price, and not forced'];
  }
  manualExit(sig, op.ts, op.price, op.fraction);
  return [];
}

// ---------------------------------------------------------------------------------------------
// Output (SPEC "Replay output", keys in OutcomeLine order)

function sumLegs(legs: Leg[], term: (leg: Leg) => number): number {
  let sum = 0;
  for (const leg of legs) sum += term(leg);
  return sum;
}

function toLine(sig: RefSignal): OutcomeLine {
  const id = sig.payload.id;
  if (sig.state === 'pending') return { id, state: 'pending', legs: [] };
  const legs = sig.legs.map((leg) => ({ ...leg }));
  const fill = sig.fill === null ? null : { ts: sig.fill.ts, price: sig.fill.price };
  if (sig.state !== 'closed') {
    return {
      id,
      state: sig.state,
      fill: fill as { ts: number; price: number },
      legs,
      mfe: sig.mfe,
      mae: sig.mae,
    };
  }
  const outcome = sig.outcome as OutcomeCode;
  const closedAt = sig.closedAt as number;
  if (fill === null) return { id, state: 'closed', outcome, legs: [], closedAt };
  if (outcome === 'INVALID_AT_FILL') {
    return { id, state: 'closed', outcome, fill, legs: [], closedAt, holdingMs: 0 };
  }

  const entry = fill.price;
  const dir = sig.dir;
  const feeBps = sig.payload.feeBps ?? 0;
  const grossReturn = sumLegs(legs, (leg) => (leg.fraction * dir * (leg.price - entry)) / entry);
  const notionalOut = sumLegs(legs, (leg) => (leg.fraction * leg.price) / entry);
  const netReturn = grossReturn - (feeBps / 1e4) * (1 + notionalOut);
  const rMultiple =
    sig.initialStop === null
      ? null
      : sumLegs(legs, (leg) => leg.fraction * dir * (leg.price - entry)) / Math.abs(entry - sig.initialStop);
  const lastLeg = legs[legs.length - 1];
  const partial = legs.length > 1 && lastLeg?.reason !== 'TP';
  const line: OutcomeLine = {
    id,
    state: 'closed',
    outcome,
    partial,
    fill,
    legs,
    grossReturn,
    netReturn,
    rMultiple,
  };
  const notional = sig.payload.notional;
  if (notional !== undefined) {
    line.pnl = notional * netReturn;
    line.fees = notional * (feeBps / 1e4) * (1 + notionalOut);
  }
  return {
    ...line,
    mfe: sig.mfe,
    mae: sig.mae,
    closedAt,
    holdingMs: closedAt - fill.ts,
  };
}

// ---------------------------------------------------------------------------------------------
// The replay loop

/**
 * Replays `ticks` (in arrival order) against `signals`, interleaving `ops` by time, and returns
 * one outcome line per signal in input order, the rejected operations with their reasons, and
 * how many late ticks were dropped.
 *
 * Operations whose shape is wrong or whose id names no signal cannot be placed on any symbol's
 * timeline; they are rejected first, in input order. The others apply to their signal after
 * every applied tick of its symbol with `ts <= op.ts` (equal ts in input order), and those still
 * waiting after the last tick apply at the end in ts order.
 */
export function referenceReplay(
  signals: SignalPayload[],
  ticks: Tick[],
  ops: Operation[] = [],
): ReferenceReplayResult {
  const refs = signals.map(createRefSignal);
  const byId = new Map<string, RefSignal>();
  for (const ref of refs) if (!byId.has(ref.payload.id)) byId.set(ref.payload.id, ref);

  const rejectedOps: { op: unknown; errors: string[] }[] = [];
  const scheduled: { op: Operation; sig: RefSignal }[] = [];
  for (const raw of ops as unknown[]) {
    const errors = shapeErrors(raw);
    const id = isPlainObject(raw) ? raw.id : undefined;
    const sig = typeof id === 'string' ? byId.get(id) : undefined;
    if (typeof id === 'string' && sig === undefined) errors.push(`id: unknown signal ${JSON.stringify(id)}`);
    if (errors.length > 0 || sig === undefined) {
      rejectedOps.push({ op: raw, errors });
      continue;
    }
    scheduled.push({ op: raw as Operation, sig });
  }
  // Stable sort: equal ts keep input order.
  scheduled.sort((a, b) => a.op.ts - b.op.ts);
  const done = new Array<boolean>(scheduled.length).fill(false);

  const runOp = (index: number): void => {
    const entry = scheduled[index] as { op: Operation; sig: RefSignal };
    done[index] = true;
    const errors = applyOperation(entry.sig, entry.op);
    if (errors.length > 0) rejectedOps.push({ op: entry.op, errors });
  };

  const lastTs = new Map<string, number>();
  let lateTicks = 0;
  for (const rawTick of ticks) {
    const tick: Tick = { ...rawTick, symbol: rawTick.symbol.toUpperCase() };
    const previous = lastTs.get(tick.symbol);
    if (previous !== undefined && tick.ts < previous) {
      lateTicks++;
      continue;
    }
    // Operations of this symbol that are due before this tick.
    for (let i = 0; i < scheduled.length; i++) {
      const entry = scheduled[i] as { op: Operation; sig: RefSignal };
      if (!done[i] && entry.sig.symbol === tick.symbol && entry.op.ts < tick.ts) runOp(i);
    }
    lastTs.set(tick.symbol, tick.ts);

    for (const sig of refs) {
      if (sig.symbol !== tick.symbol) continue;
      if (sig.state === 'closed') continue;
      if (tick.ts < sig.payload.createdAt) continue;
      if (sig.state === 'pending') applyEntryTick(sig, tick);
      else applyExitTick(sig, tick);
    }
  }
  for (let i = 0; i < scheduled.length; i++) if (!done[i]) runOp(i);

  return { lines: refs.map(toLine), rejectedOps, lateTicks };
}
