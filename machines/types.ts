/**
 * Types shared by the signal machine, the index, replay and the live workers.
 * Field names follow docs/SPEC.md exactly; the payload shape is also published
 * as JSON Schema in docs/schemas/track-signal.v1.json.
 */

/** The largest time (epoch ms) a date holds in JavaScript and PostgreSQL alike (SPEC.md "Tick"). */
export const MAX_TIME_MS = 8_640_000_000_000_000;

/** One market tick. `ts` is epoch milliseconds (market time). */
export interface Tick {
  symbol: string;
  ts: number;
  price: number;
  bid?: number;
  ask?: number;
}

export type Side = 'long' | 'short';
export type TriggerSource = 'last' | 'bid_ask' | 'mid';

export type Entry = { type: 'market' } | { type: 'limit'; price: number } | { type: 'stop'; price: number };

export type TrailingActivation = 'fill' | { price: number } | { afterTp: number };

/** The `track-signal` job payload, version 1 (SPEC.md "Signal"). */
export interface SignalPayload {
  v: 1;
  id: string;
  symbol: string;
  side: Side;
  createdAt: number;
  entry: Entry;
  takeProfits?: { price: number; fraction: number }[];
  stopLoss?: { price: number };
  breakevenAfterTp?: number;
  breakevenOffsetBps?: number;
  trailing?: { distanceBps: number; activation: TrailingActivation };
  entryExpiresAt?: number;
  timeLimitMs?: number;
  toleranceBps?: number;
  confirmMs?: number;
  trigger?: TriggerSource;
  stopFill?: 'trigger' | 'level';
  feeBps?: number;
  /** Adverse slippage in bps on fills that take liquidity (SPEC.md "Slippage"). */
  slippageBps?: number;
  /** Return table: after `afterMs` held, exit the remainder once its return reaches `returnBps`. */
  roi?: { afterMs: number; returnBps: number }[];
  /** The planned position's value in quote currency; adds `pnl` and `fees` to the outcome. */
  notional?: number;
  tenant?: string;
  strategy?: string;
  model?: string;
  modelVersion?: string;
  timeframe?: string;
  confidence?: number;
  meta?: Record<string, unknown>;
}

/** SPEC.md "Operations". */
export type Operation =
  | { op: 'exit'; id: string; ts: number; price?: number; fraction?: number; force?: boolean }
  | { op: 'cancel'; id: string; ts: number }
  | {
      op: 'amend';
      id: string;
      ts: number;
      stopLoss?: { price: number };
      takeProfits?: { level: number; price: number }[];
    };

export type StopKind = 'initial' | 'breakeven' | 'trailing' | 'amended';
export type LegReason = 'TP' | 'SL' | 'ROI' | 'TIME' | 'MANUAL';

export interface Leg {
  reason: LegReason;
  /** 1-based TP index, TP legs only. */
  level?: number;
  /** What set the stop level last, SL legs only. */
  stopKind?: StopKind;
  price: number;
  fraction: number;
  ts: number;
}

export type OutcomeCode =
  | 'TP_HIT'
  | 'SL_HIT'
  | 'ROI_EXIT'
  | 'TIME_EXIT'
  | 'MANUAL_EXIT'
  | 'EXPIRED'
  | 'CANCELLED'
  | 'INVALID_AT_FILL';

export type SignalState = 'pending' | 'open' | 'partial' | 'closed';

/** One line of replay output / export (SPEC.md "Replay output"), keys in this order. */
export interface OutcomeLine {
  id: string;
  state: SignalState;
  outcome?: OutcomeCode;
  partial?: boolean;
  fill?: { ts: number; price: number };
  legs: Leg[];
  grossReturn?: number;
  netReturn?: number;
  rMultiple?: number | null;
  /** Quote currency, with `notional` only: `notional · netReturn`. */
  pnl?: number;
  /** Quote currency, with `notional` only: fees on the entry and every leg. */
  fees?: number;
  mfe?: number;
  mae?: number;
  closedAt?: number;
  holdingMs?: number;
  stale?: true;
}

/** A payload that failed validation (or repeated an id). */
export interface RejectedLine {
  id: string | null;
  state: 'rejected';
  errors: string[];
}
