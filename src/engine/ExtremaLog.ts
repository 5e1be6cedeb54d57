/**
 * The highest and lowest value of one price series over any recent range of ticks, so that a
 * signal the index skipped for many ticks catches up its excursions and trailing peak in one
 * step. Two monotonic stacks of (tick number, value): the suffix maxima and the suffix
 * minima. The extreme over ticks (s, latest] is the first stack entry after s. On a random
 * walk the stacks hold about √n entries; `size` lets the owner sync and reset when they grow.
 */
export interface ExtremaState {
  maxSeq: number[];
  maxVal: number[];
  minSeq: number[];
  minVal: number[];
}

/**
 * What changed in the stacks since the last {@link ExtremaLog.exportTail}: each stack kept its
 * first `maxFrom` (`minFrom`) entries and continues with the ones given. A checkpoint writes
 * only this, so a job's cost does not grow with the stacks (a stack is rewritten in full
 * only after a restore, a clear, or a stretch untracked: `from` 0).
 */
export interface ExtremaTail extends ExtremaState {
  maxFrom: number;
  minFrom: number;
}

/** The stacks `older` and then `newer` describe together (two tails in commit order). */
export function appendTail(older: ExtremaTail, newer: ExtremaTail): ExtremaTail {
  if (
    newer.maxFrom > older.maxFrom + older.maxSeq.length ||
    newer.minFrom > older.minFrom + older.minSeq.length
  )
    throw new Error('extrema tail starts past the end of the one before it');
  const keepMax = Math.max(0, newer.maxFrom - older.maxFrom);
  const keepMin = Math.max(0, newer.minFrom - older.minFrom);
  return {
    maxFrom: Math.min(older.maxFrom, newer.maxFrom),
    maxSeq: [...older.maxSeq.slice(0, keepMax), ...newer.maxSeq],
    maxVal: [...older.maxVal.slice(0, keepMax), ...newer.maxVal],
    minFrom: Math.min(older.minFrom, newer.minFrom),
    minSeq: [...older.minSeq.slice(0, keepMin), ...newer.minSeq],
    minVal: [...older.minVal.slice(0, keepMin), ...newer.minVal],
  };
}

export class ExtremaLog {
  private maxSeq: number[] = [];
  private maxVal: number[] = [];
  private minSeq: number[] = [];
  private minVal: number[] = [];
  /** The fewest entries each stack held since the last exportTail: what a checkpoint still has. */
  private maxSaved = 0;
  private minSaved = 0;

  push(seq: number, value: number): void {
    while (this.maxVal.length > 0 && this.maxVal[this.maxVal.length - 1]! <= value) {
      this.maxVal.pop();
      this.maxSeq.pop();
    }
    if (this.maxVal.length < this.maxSaved) this.maxSaved = this.maxVal.length;
    this.maxVal.push(value);
    this.maxSeq.push(seq);
    while (this.minVal.length > 0 && this.minVal[this.minVal.length - 1]! >= value) {
      this.minVal.pop();
      this.minSeq.pop();
    }
    if (this.minVal.length < this.minSaved) this.minSaved = this.minVal.length;
    this.minVal.push(value);
    this.minSeq.push(seq);
  }

  /** The largest value pushed after tick `after`; undefined when none was. */
  maxAfter(after: number): number | undefined {
    const i = firstAfter(this.maxSeq, after);
    return i < 0 ? undefined : this.maxVal[i];
  }

  /** The smallest value pushed after tick `after`; undefined when none was. */
  minAfter(after: number): number | undefined {
    const i = firstAfter(this.minSeq, after);
    return i < 0 ? undefined : this.minVal[i];
  }

  get size(): number {
    return this.maxSeq.length + this.minSeq.length;
  }

  /** The stacks as plain arrays (JSON), for a checkpoint. */
  export(): ExtremaState {
    return {
      maxSeq: this.maxSeq.slice(),
      maxVal: this.maxVal.slice(),
      minSeq: this.minSeq.slice(),
      minVal: this.minVal.slice(),
    };
  }

  /**
   * The entries pushed since the last call, after the ones it left in place (see
   * {@link ExtremaTail}); from now on they count as saved. After `import`, `clear` or
   * `forgetSaved` the whole stacks.
   */
  exportTail(): ExtremaTail {
    const tail = {
      maxFrom: this.maxSaved,
      maxSeq: this.maxSeq.slice(this.maxSaved),
      maxVal: this.maxVal.slice(this.maxSaved),
      minFrom: this.minSaved,
      minSeq: this.minSeq.slice(this.minSaved),
      minVal: this.minVal.slice(this.minSaved),
    };
    this.maxSaved = this.maxSeq.length;
    this.minSaved = this.minSeq.length;
    return tail;
  }

  /** The next exportTail gives the whole stacks (their stored copy is gone or not to be trusted). */
  forgetSaved(): void {
    this.maxSaved = 0;
    this.minSaved = 0;
  }

  /** Replaces the stacks with a checkpoint's. The next exportTail gives them whole. */
  import(state: ExtremaState): void {
    this.maxSeq = state.maxSeq.slice();
    this.maxVal = state.maxVal.slice();
    this.minSeq = state.minSeq.slice();
    this.minVal = state.minVal.slice();
    this.forgetSaved();
  }

  clear(): void {
    this.maxSeq.length = 0;
    this.maxVal.length = 0;
    this.minSeq.length = 0;
    this.minVal.length = 0;
    this.forgetSaved();
  }
}

/** Index of the first entry of the ascending `seqs` greater than `after`, or -1. */
function firstAfter(seqs: number[], after: number): number {
  let lo = 0;
  let hi = seqs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (seqs[mid]! > after) hi = mid;
    else lo = mid + 1;
  }
  return lo < seqs.length ? lo : -1;
}
