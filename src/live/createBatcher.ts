/** What a batch run answers for one of its items: its result, or the error that is its alone. */
export type ItemOutcome<O> = { ok: true; value: O } | { ok: false; error: unknown };

export interface BatcherOptions<I, O> {
  /** Most items in one batch. */
  maxSize: number;
  /** Most batches running at once; the items that arrive meanwhile wait for the next one. */
  maxInFlight: number;
  /**
   * Runs one batch. It answers one outcome per item, in order (an item's own failure fails
   * only that item); a rejection fails every item of the batch.
   */
  run(items: I[]): Promise<ItemOutcome<O>[]>;
}

export interface Batcher<I, O> {
  /** Adds an item to the next batch; settles when its batch has run. */
  submit(item: I): Promise<O>;
}

interface Waiting<I, O> {
  item: I;
  resolve(value: O): void;
  reject(error: unknown): void;
}

/**
 * Group commit: items submitted while a batch runs wait and go together in the next one. An
 * item that finds a free slot waits only for the end of the current event-loop turn (the items
 * submitted in the same turn join it), so a lone item is not held back by a timer, and under
 * load the batches grow by themselves to what arrives during one batch's run.
 */
export function createBatcher<I, O>(opts: BatcherOptions<I, O>): Batcher<I, O> {
  if (!(opts.maxSize >= 1 && opts.maxInFlight >= 1))
    throw new RangeError('maxSize and maxInFlight must be ≥ 1');
  const waiting: Waiting<I, O>[] = [];
  let inFlight = 0;
  let scheduled = false;

  function schedule(): void {
    if (scheduled || waiting.length === 0 || inFlight >= opts.maxInFlight) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      drain();
    });
  }

  function drain(): void {
    while (waiting.length > 0 && inFlight < opts.maxInFlight) start(waiting.splice(0, opts.maxSize));
  }

  function start(batch: Waiting<I, O>[]): void {
    inFlight++;
    let settled: Promise<ItemOutcome<O>[]>;
    try {
      settled = opts.run(batch.map((w) => w.item));
    } catch (err) {
      settled = Promise.reject(err);
    }
    settled
      .then((outcomes) => {
        if (outcomes.length !== batch.length)
          throw new Error(`a batch of ${batch.length} items answered ${outcomes.length} outcomes`);
        batch.forEach((w, i) => {
          const o = outcomes[i]!;
          if (o.ok) w.resolve(o.value);
          else w.reject(o.error);
        });
      })
      .catch((err: unknown) => {
        for (const w of batch) w.reject(err);
      })
      .finally(() => {
        inFlight--;
        // What arrived meanwhile has waited its turn already: it goes at once.
        drain();
      });
  }

  return {
    submit(item) {
      return new Promise<O>((resolve, reject) => {
        waiting.push({ item, resolve, reject });
        if (waiting.length >= opts.maxSize && inFlight < opts.maxInFlight) {
          start(waiting.splice(0, opts.maxSize));
        }
        schedule();
      });
    },
  };
}
