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
  return sig.dir === 1 ? p <= level * (1 + t) : p >= level * (1 - t);
}

function tpTouched(sig: RefSignal, level: number, p: number): boolean {
  const t = sig.toleranceFactor;
  return sig.dir === 1 ? p >= level * (1 - t) : p <= level * (1 + t);
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
  TIME: 'TIME_EXIT',
  MANUAL: 'MANUAL_EXIT',
};

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
    fillPrice = p;
  } else if (entry.type === 'limit') {
    const reached = sig.dir === 1 ? p <= entry.price : p >= entry.price;
    if (reached) fillPrice = isFirstTick ? p : entry.price;
  } else {
    const reached = sig.dir === 1 ? p >= entry.price : p <= entry.price;
    if (reached) fillPrice = p;
  }
  if (fillPrice === null) return;
  sig.fill = { ts: tick.ts, price: fillPrice };

  // 3. Fill at or beyond the stop or the first TP.
  const tp1 = sig.tps[0];
  const beyondStop = sig.stop !== null && (sig.dir === 1 ? fillPrice <= sig.stop : fillPrice >= sig.stop);
  const beyondTp1 = tp1 !== undefined && (sig.dir === 1 ? fillPrice >= tp1.price : fillPrice <= tp1.price);
  if (beyondStop || beyondTp1) {
    close(sig, 'INVALID_AT_FILL', tick.ts);
    return;
  }

  sig.state = 'open';
  sig.initialStop = sig.stop;
  const exitP = exitTriggerPrice(sig, tick);
  sig.lastExitP = exitP;
  updateExcursions(sig, exitP);
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
    const price = (payload.stopFill ?? 'trigger') === 'level' ? sig.stop : p;
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

  // 4. Time.
  if (payload.timeLimitMs !== undefined && ts >= fill.ts + payload.timeLimitMs) {
    closeRemainder(sig, { reason: 'TIME', price: p }, ts);
    return;
  }

  // 5. Trailing.
  const trailing = payload.trailing;
  if (trailing !== undefined) {
    if (!sig.trailingActive) {
      const activation = trailing.activation;
      if (activation === 'fill') {
        // Only the first exit tick can get here inactive: it activates on that tick.
        sig.trailingActive = true;
        sig.trailingPeak = p;
      } else if ('price' in activation) {
        const reached = sig.dir === 1 ? p >= activation.price : p <= activation.price;
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
  exit: ['op', 'id', 'ts', 'price'],
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
  if (allowed !== undefined) {
    for (const key of Object.keys(raw)) {
      if (!allowed.includes(key)) errors.push(`${key}: unknown field`);
    }
  }
  if (kind === 'exit' && 'price' in raw && !isPositivePrice(raw.price)) {
    errors.push('price: must be a finite number > 0');
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

/** Closes the remainder of a filled signal by hand (SPEC "exit"). */
function manualExit(sig: RefSignal, ts: number, price: number | undefined): void {
  closeRemainder(sig, { reason: 'MANUAL', price: price ?? (sig.lastExitP as number) }, ts);
}

/** Applies one well-formed operation to its signal; returns the rejection reasons, if any. */
function applyOperation(sig: RefSignal, op: Operation): string[] {
  const errors: string[] = [];
  if (op.ts < sig.payload.createdAt) errors.push(`ts: ${op.ts} is before the signal's createdAt`);
  if (sig.state === 'closed') errors.push('signal already closed');
  if (errors.length > 0) return errors;

  if (op.op === 'amend') return applyAmend(sig, op);
  if (sig.state === 'pending') {
    // exit on a pending signal is a cancel (its price, if any, has nothing to close).
    close(sig, 'CANCELLED', op.ts);
    return [];
  }
  // cancel on a filled signal is an exit at the last exit trigger price.
  manualExit(sig, op.ts, op.op === 'exit' ? op.price : undefined);
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
  const partial = legs.some((leg) => leg.reason === 'TP') && lastLeg?.reason !== 'TP';
  return {
    id,
    state: 'closed',
    outcome,
    partial,
    fill,
    legs,
    grossReturn,
    netReturn,
    rMultiple,
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
