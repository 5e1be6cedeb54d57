/**
 * Grouping of outcomes. Every group lives inside one tenant. Kinds:
 *
 * - `all`: every outcome of the tenant, key `all`;
 * - `strategy`: key = the strategy;
 * - `model`: key = `JSON.stringify([model, modelVersion])`, e.g. `["trend-lstm","3.1"]`
 *   (`modelVersion` may be null);
 * - `symbol`, `timeframe`: key = the value.
 *
 * An outcome without the key of a kind (no strategy, no model, no timeframe) is in no group of
 * that kind; it still counts in `all`. Pure.
 */
import { KEY_KINDS, type GroupValues, type KeyKind, type OutcomeColumns } from './outcomeColumns.ts';

/** The group kinds, in the order the analyzer computes them. */
export const GROUP_KINDS = ['all', ...KEY_KINDS] as const;

/** One of {@link GROUP_KINDS}. */
export type GroupKind = (typeof GROUP_KINDS)[number];

/** Whether `name` is a group kind. */
export function isGroupKind(name: string): name is GroupKind {
  return (GROUP_KINDS as readonly string[]).includes(name);
}

/** One group: its identity and its outcomes' row indices in close order. */
export interface Group {
  tenant: string;
  kind: GroupKind;
  key: string;
  values: GroupValues;
  /** Row indices into the columns, in close order. */
  rows: Int32Array;
}

/**
 * The groups of one kind, in one pass over the rows (plus one to fill). Groups come ordered by
 * tenant and key; each group's rows keep the columns' close order.
 */
export function groupRows(columns: OutcomeColumns, kind: GroupKind): Group[] {
  const n = columns.length;
  const tenantIds = columns.tenant;
  const keyIds: Int32Array | null = kind === 'all' ? null : columns.keys[kind as KeyKind].ids;
  const width = kind === 'all' ? 1 : columns.keys[kind as KeyKind].names.length;

  // Slot per (tenant, key) pair that occurs; counts first, so each group gets an exact array.
  const slotOf = new Map<number, number>();
  const pairs: number[] = [];
  const counts: number[] = [];
  const slotPerRow = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const keyId = keyIds === null ? 0 : keyIds[i]!;
    if (keyId < 0) {
      slotPerRow[i] = -1;
      continue;
    }
    const pair = tenantIds[i]! * width + keyId;
    let slot = slotOf.get(pair);
    if (slot === undefined) {
      slot = pairs.length;
      slotOf.set(pair, slot);
      pairs.push(pair);
      counts.push(0);
    }
    counts[slot]!++;
    slotPerRow[i] = slot;
  }
  const rows = counts.map((c) => new Int32Array(c));
  const fill = new Int32Array(counts.length);
  for (let i = 0; i < n; i++) {
    const slot = slotPerRow[i]!;
    if (slot >= 0) rows[slot]![fill[slot]!++] = i;
  }

  const groups: Group[] = pairs.map((pair, slot) => {
    const tenant = columns.tenants[Math.floor(pair / width)]!;
    const keyId = pair % width;
    if (kind === 'all') return { tenant, kind, key: 'all', values: {}, rows: rows[slot]! };
    const dict = columns.keys[kind as KeyKind];
    return { tenant, kind, key: dict.names[keyId]!, values: dict.values[keyId]!, rows: rows[slot]! };
  });
  return groups.sort((a, b) => compare(a.tenant, b.tenant) || compare(a.key, b.key));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** First position in `rows` (close order) whose close time is ≥ `ms`: a binary search. */
export function lowerBound(rows: Int32Array, closedAt: Float64Array, ms: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (closedAt[rows[mid]!]! < ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
