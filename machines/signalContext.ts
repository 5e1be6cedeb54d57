import type {
  Leg,
  OutcomeCode,
  SignalPayload,
  StopKind,
  TrailingActivation,
  TriggerSource,
} from './types.ts';

/**
 * A payload that passed validation, with SPEC.md's defaults filled in and the symbol in
 * upper case. Produced by `src/validation/validateSignal.ts`.
 */
export type NormalizedSignal = SignalPayload & {
  takeProfits: { price: number; fraction: number }[];
  breakevenOffsetBps: number;
  toleranceBps: number;
  confirmMs: number;
  trigger: TriggerSource;
  stopFill: 'trigger' | 'level';
  feeBps: number;
  slippageBps: number;
  tenant: string;
};

export type Phase = 'pending' | 'open' | 'partial' | 'closed';

/**
 * Everything the machine needs to evaluate one signal, flat and JSON-serialisable: this is
 * the persisted checkpoint. Grouping keys and `meta` are not here: they are stored beside
 * the signal, never needed to evaluate it, and keeping them out keeps a million open
 * signals in memory affordable.
 */
export interface SignalContext {
  id: string;
  symbol: string;
  dir: 1 | -1;
  entryType: 'market' | 'limit' | 'stop';
  /** The limit/stop entry price; null for market entries. */
  entryPrice: number | null;
  tpPrices: number[];
  tpFractions: number[];
  tpFilled: boolean[];
  stop: number | null;
  stopKind: StopKind | null;
  breakevenAfterTp: number | null;
  breakevenOffsetBps: number;
  trailDistanceBps: number | null;
  trailActivation: TrailingActivation | null;
  entryExpiresAt: number | null;
  timeLimitMs: number | null;
  toleranceBps: number;
  confirmMs: number;
  trigger: TriggerSource;
  stopFill: 'trigger' | 'level';
  feeBps: number;
  /*
   * The v1.2 fields are optional so that checkpoints written before v1.2 restore as signals
   * without them (SPEC.md: such signals evaluate as in v1.1). New contexts always carry them.
   */
  slippageBps?: number;
  /** The return table as two parallel arrays (afterMs ascending); null without one. */
  roiAfterMs?: number[] | null;
  roiReturnBps?: number[] | null;
  /**
   * Index of the return-table entry in force at the signal's latest exit tick (−1: none yet).
   * Only the index reads it (machines/watch.ts): the rule itself recomputes it from `ts`.
   */
  roiStage?: number;
  notional?: number | null;
  createdAt: number;

  phase: Phase;
  /** Whether the signal has applied a tick (a limit that fills on its first tick fills at the tick's price). */
  seen: boolean;
  fill: { ts: number; price: number } | null;
  initialStop: number | null;
  legs: Leg[];
  remaining: number;
  /** Highest and lowest exit trigger price from the fill tick on (MFE/MAE derive from them). */
  hi: number | null;
  lo: number | null;
  /** The exit trigger price of the latest tick this signal has seen since its fill. */
  lastP: number | null;
  trailActive: boolean;
  /** Trailing peak; null while active but before the first exit tick (activation "fill"). */
  peak: number | null;
  /** Arm time of the stop (one level whatever its price) and of each TP; null = disarmed. */
  armStop: number | null;
  armTp: (number | null)[];
  outcome: OutcomeCode | null;
  closedAt: number | null;
  stale: boolean;
}

/** The context of a newly accepted signal. */
export function initialContext(s: NormalizedSignal): SignalContext {
  const tps = s.takeProfits;
  return {
    id: s.id,
    symbol: s.symbol,
    dir: s.side === 'long' ? 1 : -1,
    entryType: s.entry.type,
    entryPrice: s.entry.type === 'market' ? null : s.entry.price,
    tpPrices: tps.map((tp) => tp.price),
    tpFractions: tps.map((tp) => tp.fraction),
    tpFilled: tps.map(() => false),
    stop: s.stopLoss?.price ?? null,
    stopKind: s.stopLoss ? 'initial' : null,
    breakevenAfterTp: s.breakevenAfterTp ?? null,
    breakevenOffsetBps: s.breakevenOffsetBps,
    trailDistanceBps: s.trailing?.distanceBps ?? null,
    trailActivation: s.trailing?.activation ?? null,
    entryExpiresAt: s.entryExpiresAt ?? null,
    timeLimitMs: s.timeLimitMs ?? null,
    toleranceBps: s.toleranceBps,
    confirmMs: s.confirmMs,
    trigger: s.trigger,
    stopFill: s.stopFill,
    feeBps: s.feeBps,
    slippageBps: s.slippageBps,
    roiAfterMs: s.roi?.map((r) => r.afterMs) ?? null,
    roiReturnBps: s.roi?.map((r) => r.returnBps) ?? null,
    roiStage: -1,
    notional: s.notional ?? null,
    createdAt: s.createdAt,
    phase: 'pending',
    seen: false,
    fill: null,
    initialStop: null,
    legs: [],
    remaining: 1,
    hi: null,
    lo: null,
    lastP: null,
    trailActive: false,
    peak: null,
    armStop: null,
    armTp: tps.map(() => null),
    outcome: null,
    closedAt: null,
    stale: false,
  };
}

/** A copy that the rule functions may mutate (arrays that change are copied too). */
export function cloneContext(c: SignalContext): SignalContext {
  return {
    ...c,
    tpPrices: c.tpPrices.slice(),
    tpFilled: c.tpFilled.slice(),
    legs: c.legs.slice(),
    armTp: c.armTp.slice(),
  };
}
