/**
 * The filled trades of one group over one period, column-wise, in close order: what the insight
 * rules read. Built from {@link OutcomeColumns} by the analyzer, or from plain objects by tests
 * ({@link tradeSample}). Pure.
 */
import { STOP_KINDS, UNFILLED_OUTCOME_INDICES, type OutcomeColumns } from './outcomeColumns.ts';

/** Filled trades, column-wise; every array has `n` entries. Missing numbers are NaN. */
export interface TradeSample {
  readonly n: number;
  /** The trade's result: its net return (> 0 win, < 0 loss, 0 draw). */
  readonly result: Float64Array;
  readonly rMultiple: Float64Array;
  readonly confidence: Float64Array;
  readonly holdingMs: Float64Array;
  readonly closedAt: Float64Array;
  /** When the signal was created (epoch ms); the hour rules use its UTC hour. */
  readonly createdAt: Float64Array;
  /** Symbol id per trade; names in `symbols`. */
  readonly symbol: Int32Array;
  readonly symbols: readonly string[];
  /** 0 = not closed by a stop, else 1 + index into STOP_KINDS. */
  readonly closeStopKind: Uint8Array;
  /** Highest TP level filled (0 = none). */
  readonly maxTpLevel: Uint8Array;
  /** 1 when TP1 filled and part of the position stayed open after it. */
  readonly continuedAfterTp1: Uint8Array;
}

/**
 * The filled trades among `rows[from..to)` (close order). Unfilled outcomes (EXPIRED, CANCELLED,
 * INVALID_AT_FILL) and trades without a net return are left out.
 */
export function sampleFromColumns(
  columns: OutcomeColumns,
  rows: Int32Array,
  from: number,
  to: number,
): TradeSample {
  let n = 0;
  for (let p = from; p < to; p++) {
    const i = rows[p]!;
    if (!UNFILLED_OUTCOME_INDICES.has(columns.outcome[i]!) && Number.isFinite(columns.netReturn[i]!)) n++;
  }
  const s = emptySample(n, columns.keys.symbol.names);
  let k = 0;
  for (let p = from; p < to; p++) {
    const i = rows[p]!;
    if (UNFILLED_OUTCOME_INDICES.has(columns.outcome[i]!) || !Number.isFinite(columns.netReturn[i]!))
      continue;
    s.result[k] = columns.netReturn[i]!;
    s.rMultiple[k] = columns.rMultiple[i]!;
    s.confidence[k] = columns.confidence[i]!;
    s.holdingMs[k] = columns.holdingMs[i]!;
    s.closedAt[k] = columns.closedAt[i]!;
    s.createdAt[k] = columns.createdAt[i]!;
    s.symbol[k] = columns.keys.symbol.ids[i]!;
    s.closeStopKind[k] = columns.closeStopKind[i]!;
    s.maxTpLevel[k] = columns.maxTpLevel[i]!;
    s.continuedAfterTp1[k] = columns.continuedAfterTp1[i]!;
    k++;
  }
  return s;
}

function emptySample(n: number, symbols: readonly string[]): TradeSample & { symbols: readonly string[] } {
  return {
    n,
    result: new Float64Array(n),
    rMultiple: new Float64Array(n),
    confidence: new Float64Array(n),
    holdingMs: new Float64Array(n),
    closedAt: new Float64Array(n),
    createdAt: new Float64Array(n),
    symbol: new Int32Array(n),
    symbols,
    closeStopKind: new Uint8Array(n),
    maxTpLevel: new Uint8Array(n),
    continuedAfterTp1: new Uint8Array(n),
  };
}

/** One trade for {@link tradeSample}; only `result` is required. */
export interface SampleTrade {
  result: number;
  rMultiple?: number | null;
  confidence?: number | null;
  holdingMs?: number | null;
  closedAt?: number;
  createdAt?: number;
  symbol?: string;
  closeStopKind?: (typeof STOP_KINDS)[number] | null;
  maxTpLevel?: number;
  continuedAfterTp1?: boolean;
}

/** A sample from plain trades, in the order given (closedAt defaults to the position × 1 min). */
export function tradeSample(trades: readonly SampleTrade[]): TradeSample {
  const symbols: string[] = [];
  const ids = new Map<string, number>();
  const s = emptySample(trades.length, symbols);
  trades.forEach((t, k) => {
    const symbol = t.symbol ?? 'X';
    let id = ids.get(symbol);
    if (id === undefined) {
      id = symbols.length;
      ids.set(symbol, id);
      symbols.push(symbol);
    }
    s.result[k] = t.result;
    s.rMultiple[k] = t.rMultiple ?? Number.NaN;
    s.confidence[k] = t.confidence ?? Number.NaN;
    s.holdingMs[k] = t.holdingMs ?? Number.NaN;
    s.closedAt[k] = t.closedAt ?? k * 60_000;
    s.createdAt[k] = t.createdAt ?? s.closedAt[k]!;
    s.symbol[k] = id;
    s.closeStopKind[k] = t.closeStopKind ? STOP_KINDS.indexOf(t.closeStopKind) + 1 : 0;
    s.maxTpLevel[k] = t.maxTpLevel ?? 0;
    s.continuedAfterTp1[k] = t.continuedAfterTp1 ? 1 : 0;
  });
  return s;
}

/**
 * The filled trades of all of a group's rows ({@link sampleFromColumns} over the whole group),
 * and for each position `p` how many of them come before it, so that the sample of any range
 * of the group's rows is a view into it ({@link sampleOfRange}). The analyzer takes samples of
 * the same group for every window end, window and baseline: built once per group, they are no
 * longer copied out of the columns each time.
 */
export interface GroupSample {
  readonly all: TradeSample;
  /** `start[p]`: the filled trades among rows[0..p); `rows.length + 1` entries. */
  readonly start: Int32Array;
}

/** The {@link GroupSample} of `rows` (close order). */
export function groupSample(columns: OutcomeColumns, rows: Int32Array): GroupSample {
  const all = sampleFromColumns(columns, rows, 0, rows.length);
  const start = new Int32Array(rows.length + 1);
  let k = 0;
  for (let p = 0; p < rows.length; p++) {
    start[p] = k;
    const i = rows[p]!;
    if (!UNFILLED_OUTCOME_INDICES.has(columns.outcome[i]!) && Number.isFinite(columns.netReturn[i]!)) k++;
  }
  start[rows.length] = k;
  return { all, start };
}

/** The same sample as `sampleFromColumns(columns, rows, from, to)`, as views into `g`. */
export function sampleOfRange(g: GroupSample, from: number, to: number): TradeSample {
  const a = g.start[from]!;
  const b = g.start[to]!;
  const s = g.all;
  return {
    n: b - a,
    result: s.result.subarray(a, b),
    rMultiple: s.rMultiple.subarray(a, b),
    confidence: s.confidence.subarray(a, b),
    holdingMs: s.holdingMs.subarray(a, b),
    closedAt: s.closedAt.subarray(a, b),
    createdAt: s.createdAt.subarray(a, b),
    symbol: s.symbol.subarray(a, b),
    symbols: s.symbols,
    closeStopKind: s.closeStopKind.subarray(a, b),
    maxTpLevel: s.maxTpLevel.subarray(a, b),
    continuedAfterTp1: s.continuedAfterTp1.subarray(a, b),
  };
}
