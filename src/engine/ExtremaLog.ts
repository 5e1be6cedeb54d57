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

export class ExtremaLog {
  private maxSeq: number[] = [];
  private maxVal: number[] = [];
  private minSeq: number[] = [];
  private minVal: number[] = [];

  push(seq: number, value: number): void {
    while (this.maxVal.length > 0 && this.maxVal[this.maxVal.length - 1]! <= value) {
      this.maxVal.pop();
      this.maxSeq.pop();
    }
    this.maxVal.push(value);
    this.maxSeq.push(seq);
    while (this.minVal.length > 0 && this.minVal[this.minVal.length - 1]! >= value) {
      this.minVal.pop();
      this.minSeq.pop();
    }
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

  /** Replaces the stacks with a checkpoint's. */
  import(state: ExtremaState): void {
    this.maxSeq = state.maxSeq.slice();
    this.maxVal = state.maxVal.slice();
    this.minSeq = state.minSeq.slice();
    this.minVal = state.minVal.slice();
  }

  clear(): void {
    this.maxSeq.length = 0;
    this.maxVal.length = 0;
    this.minSeq.length = 0;
    this.minVal.length = 0;
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
