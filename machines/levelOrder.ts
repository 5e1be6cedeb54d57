import { trackerError, type TrackerError } from '../src/errors.ts';

/** A price level and how messages name it. */
export interface NamedLevel {
  readonly price: number;
  /** The field a message about this level starts with (`stopLoss.price`, `takeProfits`). */
  readonly field: string;
  /** How a message about another level names this one (`the entry price`, `TP 1`). */
  readonly name: string;
}

/** The levels of one signal whose order SPEC.md fixes. */
export interface LevelSet {
  readonly side: 'long' | 'short';
  /** The entry price (a limit signal in validation, a pending one when amended) or the last exit trigger price (filled); null: none. */
  readonly pivot: NamedLevel | null;
  readonly stop: NamedLevel | null;
  /** The take-profits still to fill, in order. */
  readonly takeProfits: readonly NamedLevel[];
}

/**
 * SPEC.md's level order, the one rule behind validation (§3.5 rule 7) and amend (§10.4): long
 * `stop < pivot < first TP < next TP < …`, short mirrored; absent levels are left out. Each
 * violated pair gives one LEVEL_ORDER error naming both levels. Validation and amend differ
 * only in their pivot (entry price, or the last exit trigger price once filled) and in how they
 * name the levels.
 */
export function levelOrderErrors(levels: LevelSet): TrackerError[] {
  const { side, pivot, stop, takeProfits } = levels;
  const dir = side === 'long' ? 1 : -1;
  const errors: TrackerError[] = [];
  /** `low` must be strictly on the stop side of `high`. */
  const order = (low: NamedLevel, high: NamedLevel, about: NamedLevel): void => {
    if (dir * (high.price - low.price) > 0) return;
    const other = about === low ? high : low;
    const where = (about === low) === dir > 0 ? 'below' : 'above';
    errors.push(
      trackerError(
        'LEVEL_ORDER',
        `${about.field}: ${about.price} must be ${where} ${other.name} ${other.price} for a ${side}`,
      ),
    );
  };
  const first = takeProfits[0];
  if (stop !== null && pivot !== null) order(stop, pivot, stop);
  if (first !== undefined && pivot !== null) order(pivot, first, first);
  if (stop !== null && first !== undefined) order(stop, first, stop);
  for (let i = 1; i < takeProfits.length; i++) order(takeProfits[i - 1]!, takeProfits[i]!, takeProfits[i]!);
  return errors;
}
