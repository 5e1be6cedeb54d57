/**
 * Closed outcomes held column-wise in typed arrays: a million outcomes fit in ~100 MB and every
 * grouping is a pass over small integer ids instead of over objects. Text keys (tenant,
 * strategy, model + version, symbol, timeframe) are dictionary-encoded to ids; missing numbers
 * are NaN, a missing key is -1.
 *
 * Pure: `src/storage/loadOutcomes.ts` feeds rows from PostgreSQL into
 * {@link OutcomeColumnsBuilder}; tests feed rows built by hand.
 */
import { OUTCOME_CODES } from '../metrics/tradeRecord.ts';
import type { OutcomeCode } from '../../machines/types.ts';

/** What set the stop that closed a trade; code = index + 1, 0 = the closing leg was no stop. */
export const STOP_KINDS = ['initial', 'breakeven', 'trailing', 'amended'] as const;

/** Code of a closing `initial` stop in {@link OutcomeColumns.closeStopKind}. */
export const INITIAL_STOP = 1;

/** The grouping dimensions an outcome carries (the group kind `all` needs none). */
export const KEY_KINDS = ['strategy', 'model', 'symbol', 'timeframe'] as const;

/** One of {@link KEY_KINDS}. */
export type KeyKind = (typeof KEY_KINDS)[number];

/** The named values behind a group key, stored as `group_values`. */
export type GroupValues = Readonly<Record<string, string | null>>;

/**
 * One outcome as the loader reads it, fields in this order (the loader's SELECT list follows
 * it). Timestamps in epoch ms; `createdAt` is when the signal was made (the hour rules use it).
 */
export type OutcomeRow = [
  tenant: string,
  strategy: string | null,
  model: string | null,
  modelVersion: string | null,
  symbol: string,
  timeframe: string | null,
  closedAt: number,
  createdAt: number | null,
  outcome: string,
  netReturn: number | null,
  rMultiple: number | null,
  holdingMs: number | null,
  mfe: number | null,
  mae: number | null,
  confidence: number | null,
  /** Highest TP level filled, 0 for none. */
  maxTpLevel: number,
  /** TP1 filled and part of the position stayed open after it. */
  continuedAfterTp1: boolean,
  /** The closing leg's stopKind when it is a stop, else null. */
  closeStopKind: string | null,
  /** Quote currency (SPEC v1.2 `notional`); null or absent when the signal gave none. */
  pnl?: number | null,
  fees?: number | null,
];

/** The columns; every array has `length` entries, row `i` in each. */
export interface OutcomeColumns {
  readonly length: number;
  /** Tenant id per row; names in `tenants`. */
  readonly tenant: Int32Array;
  readonly tenants: readonly string[];
  /** Per key kind: the group id per row (-1 when the outcome lacks that key) and each id's key and values. */
  readonly keys: Readonly<
    Record<
      KeyKind,
      { readonly ids: Int32Array; readonly names: readonly string[]; readonly values: readonly GroupValues[] }
    >
  >;
  readonly closedAt: Float64Array;
  /** Signal creation time; the fill or close time when the outcome has none. */
  readonly createdAt: Float64Array;
  /** Index into OUTCOME_CODES. */
  readonly outcome: Uint8Array;
  readonly netReturn: Float64Array;
  readonly rMultiple: Float64Array;
  readonly holdingMs: Float64Array;
  readonly mfe: Float64Array;
  readonly mae: Float64Array;
  readonly confidence: Float64Array;
  /** In quote currency; NaN where the signal gave no notional. */
  readonly pnl: Float64Array;
  readonly fees: Float64Array;
  readonly maxTpLevel: Uint8Array;
  readonly continuedAfterTp1: Uint8Array;
  /** 0, or 1 + index into STOP_KINDS. */
  readonly closeStopKind: Uint8Array;
}

const OUTCOME_INDEX = new Map<string, number>(OUTCOME_CODES.map((code, i) => [code, i]));
const STOP_INDEX = new Map<string, number>(STOP_KINDS.map((kind, i) => [kind, i + 1]));

/** Outcome codes by index, for reading {@link OutcomeColumns.outcome}. */
export const OUTCOME_BY_INDEX: readonly OutcomeCode[] = OUTCOME_CODES;

/** Indices of the outcomes that never became a trade (EXPIRED, CANCELLED, INVALID_AT_FILL). */
export const UNFILLED_OUTCOME_INDICES: ReadonlySet<number> = new Set(
  ['EXPIRED', 'CANCELLED', 'INVALID_AT_FILL'].map((code) => OUTCOME_INDEX.get(code) as number),
);

/** Index of SL_HIT in OUTCOME_CODES. */
export const SL_HIT_INDEX = OUTCOME_INDEX.get('SL_HIT') as number;

/** The group key of the `model` kind: model and version together, unambiguous whatever they contain. */
export function modelGroupKey(model: string, modelVersion: string | null): string {
  return JSON.stringify([model, modelVersion]);
}

class Dictionary {
  readonly names: string[] = [];
  readonly values: GroupValues[] = [];
  private readonly ids = new Map<string, number>();
  id(name: string, values: () => GroupValues): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(name, id);
      this.names.push(name);
      this.values.push(values());
    }
    return id;
  }
}

type Growable = Float64Array | Int32Array | Uint8Array;

function grow<T extends Growable>(array: T, capacity: number): T {
  const next = new (array.constructor as new (n: number) => T)(capacity);
  next.set(array);
  return next;
}

const num = (x: number | null): number => (x === null ? Number.NaN : x);

/**
 * Appends rows and produces {@link OutcomeColumns} in close order within each tenant: rows that
 * arrive out of order (the loader does not sort) are sorted by `finish`, stably.
 */
export class OutcomeColumnsBuilder {
  private n = 0;
  private capacity: number;
  private readonly tenantDict = new Dictionary();
  private readonly dicts: Record<KeyKind, Dictionary> = {
    strategy: new Dictionary(),
    model: new Dictionary(),
    symbol: new Dictionary(),
    timeframe: new Dictionary(),
  };
  private tenant: Int32Array;
  private ids: Record<KeyKind, Int32Array>;
  private closedAt: Float64Array;
  private createdAt: Float64Array;
  private outcome: Uint8Array;
  private netReturn: Float64Array;
  private rMultiple: Float64Array;
  private holdingMs: Float64Array;
  private mfe: Float64Array;
  private mae: Float64Array;
  private confidence: Float64Array;
  private pnl: Float64Array;
  private fees: Float64Array;
  private maxTpLevel: Uint8Array;
  private continuedAfterTp1: Uint8Array;
  private closeStopKind: Uint8Array;
  private lastClosedAt: number[] = [];
  private readonly modelIds = new Map<string, Map<string | null, number>>();
  private ordered = true;

  constructor(capacity = 1024) {
    this.capacity = Math.max(1, capacity);
    const c = this.capacity;
    this.tenant = new Int32Array(c);
    this.ids = {
      strategy: new Int32Array(c),
      model: new Int32Array(c),
      symbol: new Int32Array(c),
      timeframe: new Int32Array(c),
    };
    this.closedAt = new Float64Array(c);
    this.createdAt = new Float64Array(c);
    this.outcome = new Uint8Array(c);
    this.netReturn = new Float64Array(c);
    this.rMultiple = new Float64Array(c);
    this.holdingMs = new Float64Array(c);
    this.mfe = new Float64Array(c);
    this.mae = new Float64Array(c);
    this.confidence = new Float64Array(c);
    this.pnl = new Float64Array(c);
    this.fees = new Float64Array(c);
    this.maxTpLevel = new Uint8Array(c);
    this.continuedAfterTp1 = new Uint8Array(c);
    this.closeStopKind = new Uint8Array(c);
  }

  /** Rows appended so far. */
  get length(): number {
    return this.n;
  }

  private ensure(): void {
    if (this.n < this.capacity) return;
    const c = this.capacity * 2;
    this.capacity = c;
    this.tenant = grow(this.tenant, c);
    for (const kind of KEY_KINDS) this.ids[kind] = grow(this.ids[kind], c);
    this.closedAt = grow(this.closedAt, c);
    this.createdAt = grow(this.createdAt, c);
    this.outcome = grow(this.outcome, c);
    this.netReturn = grow(this.netReturn, c);
    this.rMultiple = grow(this.rMultiple, c);
    this.holdingMs = grow(this.holdingMs, c);
    this.mfe = grow(this.mfe, c);
    this.mae = grow(this.mae, c);
    this.confidence = grow(this.confidence, c);
    this.pnl = grow(this.pnl, c);
    this.fees = grow(this.fees, c);
    this.maxTpLevel = grow(this.maxTpLevel, c);
    this.continuedAfterTp1 = grow(this.continuedAfterTp1, c);
    this.closeStopKind = grow(this.closeStopKind, c);
  }

  /**
   * The model group's id, looked up by model and then version: building its key
   * ({@link modelGroupKey}, a JSON string) for every row cost a third of a second per million.
   */
  private modelId(model: string, modelVersion: string | null): number {
    let byVersion = this.modelIds.get(model);
    if (byVersion === undefined) {
      byVersion = new Map();
      this.modelIds.set(model, byVersion);
    }
    let id = byVersion.get(modelVersion);
    if (id === undefined) {
      id = this.dicts.model.id(modelGroupKey(model, modelVersion), () => ({ model, modelVersion }));
      byVersion.set(modelVersion, id);
    }
    return id;
  }

  /** Appends one row; throws on an unknown outcome code or stop kind (the schema forbids them). */
  push(row: OutcomeRow): void {
    this.ensure();
    const i = this.n;
    const [tenant, strategy, model, modelVersion, symbol, timeframe, closedAt, createdAt, outcome] = row;
    const t = this.tenantDict.id(tenant, () => ({ tenant }));
    this.tenant[i] = t;
    this.ids.strategy[i] = strategy === null ? -1 : this.dicts.strategy.id(strategy, () => ({ strategy }));
    this.ids.model[i] = model === null ? -1 : this.modelId(model, modelVersion);
    this.ids.symbol[i] = this.dicts.symbol.id(symbol, () => ({ symbol }));
    this.ids.timeframe[i] =
      timeframe === null ? -1 : this.dicts.timeframe.id(timeframe, () => ({ timeframe }));
    this.closedAt[i] = closedAt;
    this.createdAt[i] = createdAt ?? closedAt;
    const code = OUTCOME_INDEX.get(outcome);
    if (code === undefined) throw new RangeError(`unknown outcome "${outcome}"`);
    this.outcome[i] = code;
    this.netReturn[i] = num(row[9]);
    this.rMultiple[i] = num(row[10]);
    this.holdingMs[i] = num(row[11]);
    this.mfe[i] = num(row[12]);
    this.mae[i] = num(row[13]);
    this.confidence[i] = num(row[14]);
    this.pnl[i] = num(row[18] ?? null);
    this.fees[i] = num(row[19] ?? null);
    this.maxTpLevel[i] = Math.min(255, Math.max(0, row[15]));
    this.continuedAfterTp1[i] = row[16] ? 1 : 0;
    const stop = row[17];
    if (stop === null) this.closeStopKind[i] = 0;
    else {
      const kind = STOP_INDEX.get(stop);
      if (kind === undefined) throw new RangeError(`unknown stop kind "${stop}"`);
      this.closeStopKind[i] = kind;
    }
    const last = this.lastClosedAt[t];
    if (last !== undefined && closedAt < last) this.ordered = false;
    this.lastClosedAt[t] = closedAt;
    this.n++;
  }

  /** The columns (views trimmed to the rows appended), in close order within each tenant. */
  finish(): OutcomeColumns {
    const n = this.n;
    const cut = <T extends Growable>(a: T): T => a.subarray(0, n) as T;
    let columns: OutcomeColumns = {
      length: n,
      tenant: cut(this.tenant),
      tenants: this.tenantDict.names,
      keys: {
        strategy: {
          ids: cut(this.ids.strategy),
          names: this.dicts.strategy.names,
          values: this.dicts.strategy.values,
        },
        model: { ids: cut(this.ids.model), names: this.dicts.model.names, values: this.dicts.model.values },
        symbol: {
          ids: cut(this.ids.symbol),
          names: this.dicts.symbol.names,
          values: this.dicts.symbol.values,
        },
        timeframe: {
          ids: cut(this.ids.timeframe),
          names: this.dicts.timeframe.names,
          values: this.dicts.timeframe.values,
        },
      },
      closedAt: cut(this.closedAt),
      createdAt: cut(this.createdAt),
      outcome: cut(this.outcome),
      netReturn: cut(this.netReturn),
      rMultiple: cut(this.rMultiple),
      holdingMs: cut(this.holdingMs),
      mfe: cut(this.mfe),
      mae: cut(this.mae),
      confidence: cut(this.confidence),
      pnl: cut(this.pnl),
      fees: cut(this.fees),
      maxTpLevel: cut(this.maxTpLevel),
      continuedAfterTp1: cut(this.continuedAfterTp1),
      closeStopKind: cut(this.closeStopKind),
    };
    if (!this.ordered) columns = permute(columns, closeOrder(columns));
    return columns;
  }
}

/**
 * Row order by close time (stable: ties keep their input order). Close times are whole
 * milliseconds: a least-significant-digit radix sort of their offsets from the earliest, 16 bits
 * a pass (three passes for any span under 8,900 years), linear where a comparison sort of a
 * million rows is n log n. Times that are not whole milliseconds fall back to the comparison sort.
 */
export function closeOrder(c: Pick<OutcomeColumns, 'length' | 'closedAt'>): Int32Array {
  const n = c.length;
  const at = c.closedAt;
  let min = Infinity;
  let max = -Infinity;
  let whole = true;
  for (let i = 0; i < n; i++) {
    const t = at[i]!;
    if (t < min) min = t;
    if (t > max) max = t;
    if (!Number.isInteger(t)) whole = false;
  }
  let order = Int32Array.from({ length: n }, (_, i) => i);
  if (n < 2) return order;
  if (!whole || !Number.isSafeInteger(max - min)) return order.sort((a, b) => at[a]! - at[b]! || a - b);
  const RADIX = 65_536;
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = at[i]! - min;
  let other = new Int32Array(n);
  const counts = new Int32Array(RADIX);
  for (let scale = 1; scale <= max - min; scale *= RADIX) {
    counts.fill(0);
    for (let p = 0; p < n; p++) counts[Math.floor(keys[order[p]!]! / scale) % RADIX]!++;
    let total = 0;
    for (let d = 0; d < RADIX; d++) {
      const k = counts[d]!;
      counts[d] = total;
      total += k;
    }
    for (let p = 0; p < n; p++) {
      const i = order[p]!;
      other[counts[Math.floor(keys[i]! / scale) % RADIX]!++] = i;
    }
    [order, other] = [other, order];
  }
  return order;
}

function permute(c: OutcomeColumns, order: Int32Array): OutcomeColumns {
  const take = <T extends Growable>(a: T): T => {
    const out = new (a.constructor as new (n: number) => T)(order.length);
    for (let i = 0; i < order.length; i++) out[i] = a[order[i]!]!;
    return out;
  };
  const keys = {} as Record<KeyKind, OutcomeColumns['keys'][KeyKind]>;
  for (const kind of KEY_KINDS) keys[kind] = { ...c.keys[kind], ids: take(c.keys[kind].ids) };
  return {
    length: c.length,
    tenant: take(c.tenant),
    tenants: c.tenants,
    keys,
    closedAt: take(c.closedAt),
    createdAt: take(c.createdAt),
    outcome: take(c.outcome),
    netReturn: take(c.netReturn),
    rMultiple: take(c.rMultiple),
    holdingMs: take(c.holdingMs),
    mfe: take(c.mfe),
    mae: take(c.mae),
    confidence: take(c.confidence),
    pnl: take(c.pnl),
    fees: take(c.fees),
    maxTpLevel: take(c.maxTpLevel),
    continuedAfterTp1: take(c.continuedAfterTp1),
    closeStopKind: take(c.closeStopKind),
  };
}

/** Builds columns from rows in one go (tests, small inputs). */
export function outcomeColumns(rows: Iterable<OutcomeRow>): OutcomeColumns {
  const builder = new OutcomeColumnsBuilder();
  for (const row of rows) builder.push(row);
  return builder.finish();
}
