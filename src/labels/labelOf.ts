/**
 * Supervised-learning labels of a closed signal (docs/API.md "Labels"). Pure.
 *
 * `barrierLabel` is the triple-barrier label: +1 when the upper barrier (a take-profit) closed
 * the trade, -1 the lower (the stop, whichever stop it was: initial, breakeven, trailing or
 * amended), 0 the vertical one: `TIME_EXIT`, `MANUAL_EXIT` and `ROI_EXIT` (the ROI table is a
 * rule of elapsed time, a target that falls as the trade ages, so its exit is a time barrier
 * whatever the return; `signLabel` carries the sign). Null when no position was held
 * (`EXPIRED`, `CANCELLED`, `INVALID_AT_FILL`): there is nothing to label.
 */
import type { OutcomeCode } from '../../machines/types.ts';
import type { LabelSource } from '../storage/pageLabels.ts';

/** One row of labels: the signal's features of record and its outcome. */
export interface LabelRow {
  signalId: string;
  tenant: string;
  symbol: string;
  side: 'long' | 'short';
  strategy: string | null;
  model: string | null;
  modelVersion: string | null;
  /** Epoch ms. */
  createdAt: number | null;
  /** Epoch ms. */
  closedAt: number;
  confidence: number | null;
  meta: Record<string, unknown> | null;
  outcome: OutcomeCode;
  barrierLabel: 1 | -1 | 0 | null;
  signLabel: 1 | -1 | 0 | null;
  rMultiple: number | null;
  netReturn: number | null;
  mfe: number | null;
  mae: number | null;
  holdingMs: number | null;
}

/** The columns of a label row, in CSV order. */
export const LABEL_COLUMNS: readonly (keyof LabelRow)[] = [
  'signalId',
  'tenant',
  'symbol',
  'side',
  'strategy',
  'model',
  'modelVersion',
  'createdAt',
  'closedAt',
  'confidence',
  'meta',
  'outcome',
  'barrierLabel',
  'signLabel',
  'rMultiple',
  'netReturn',
  'mfe',
  'mae',
  'holdingMs',
];

const BARRIER: Record<OutcomeCode, 1 | -1 | 0 | null> = {
  TP_HIT: 1,
  SL_HIT: -1,
  TIME_EXIT: 0,
  MANUAL_EXIT: 0,
  ROI_EXIT: 0,
  EXPIRED: null,
  CANCELLED: null,
  INVALID_AT_FILL: null,
};

/** The labels of one closed signal. */
export function labelOf(s: LabelSource): LabelRow {
  const sign = s.netReturn === null ? null : s.netReturn > 0 ? 1 : s.netReturn < 0 ? -1 : 0;
  return {
    signalId: s.signalId,
    tenant: s.tenant,
    symbol: s.symbol,
    side: s.side,
    strategy: s.strategy,
    model: s.model,
    modelVersion: s.modelVersion,
    createdAt: s.signalCreatedAt,
    closedAt: s.closedAt,
    confidence: s.confidence,
    meta: s.meta,
    outcome: s.outcome,
    barrierLabel: s.fillTs === null ? null : BARRIER[s.outcome],
    signLabel: sign,
    rMultiple: s.rMultiple,
    netReturn: s.netReturn,
    mfe: s.mfe,
    mae: s.mae,
    holdingMs: s.holdingMs,
  };
}
