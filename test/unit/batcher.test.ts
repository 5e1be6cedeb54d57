import { describe, expect, it } from 'vitest';
import { createBatcher, type ItemOutcome } from '../../src/live/createBatcher.ts';

/** A batch runner whose batches the test finishes by hand, recording what each held. */
function manualRunner() {
  const batches: number[][] = [];
  const pending: { items: number[]; finish(outcomes?: ItemOutcome<string>[], error?: unknown): void }[] = [];
  const run = (items: number[]): Promise<ItemOutcome<string>[]> => {
    batches.push(items);
    return new Promise((resolve, reject) => {
      pending.push({
        items,
        finish(outcomes, error) {
          if (error !== undefined) reject(error);
          else resolve(outcomes ?? items.map((i) => ({ ok: true, value: `v${i}` })));
        },
      });
    });
  };
  return { batches, pending, run };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('createBatcher (group commit)', () => {
  it('puts the items submitted in one turn into one batch, and those arriving while it runs into the next', async () => {
    const r = manualRunner();
    const b = createBatcher({ maxSize: 100, maxInFlight: 1, run: r.run });
    const first = [1, 2, 3].map((i) => b.submit(i));
    await turn();
    expect(r.batches).toEqual([[1, 2, 3]]);
    const second = [4, 5].map((i) => b.submit(i));
    await turn();
    expect(r.batches, 'no second batch while the first runs (one in flight)').toEqual([[1, 2, 3]]);
    r.pending[0]!.finish();
    expect(await Promise.all(first)).toEqual(['v1', 'v2', 'v3']);
    await turn();
    expect(r.batches).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    r.pending[1]!.finish();
    expect(await Promise.all(second)).toEqual(['v4', 'v5']);
  });

  it('never makes a batch larger than maxSize, and runs up to maxInFlight at once', async () => {
    const r = manualRunner();
    const b = createBatcher({ maxSize: 2, maxInFlight: 2, run: r.run });
    const all = [1, 2, 3, 4, 5].map((i) => b.submit(i));
    await turn();
    expect(r.batches).toEqual([
      [1, 2],
      [3, 4],
    ]);
    r.pending[1]!.finish();
    await turn();
    expect(r.batches).toEqual([[1, 2], [3, 4], [5]]);
    r.pending[0]!.finish();
    r.pending[2]!.finish();
    expect(await Promise.all(all)).toEqual(['v1', 'v2', 'v3', 'v4', 'v5']);
  });

  it('fails only the item whose outcome is an error, and every item of a batch that rejects', async () => {
    const r = manualRunner();
    const b = createBatcher({ maxSize: 10, maxInFlight: 1, run: r.run });
    const a = [1, 2, 3].map((i) => b.submit(i).then(String, (e: Error) => `failed: ${e.message}`));
    await turn();
    r.pending[0]!.finish([
      { ok: true, value: 'one' },
      { ok: false, error: new Error('bad two') },
      { ok: true, value: 'three' },
    ]);
    expect(await Promise.all(a)).toEqual(['one', 'failed: bad two', 'three']);

    const c = [4, 5].map((i) => b.submit(i).then(String, (e: Error) => `failed: ${e.message}`));
    await turn();
    r.pending[1]!.finish(undefined, new Error('database gone'));
    expect(await Promise.all(c)).toEqual(['failed: database gone', 'failed: database gone']);

    // The batcher goes on after a failed batch.
    const d = b.submit(6);
    await turn();
    r.pending[2]!.finish();
    expect(await d).toBe('v6');
  });

  it('fails a batch whose runner answers the wrong number of outcomes, rather than leave items hanging', async () => {
    const b = createBatcher<number, string>({
      maxSize: 10,
      maxInFlight: 1,
      run: async () => [{ ok: true, value: 'only one' }],
    });
    const results = await Promise.allSettled([b.submit(1), b.submit(2)]);
    expect(results.map((x) => x.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toBeInstanceOf(Error);
  });
});
