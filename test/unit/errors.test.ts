import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { levelOrderErrors } from '../../machines/levelOrder.ts';
import type { NormalizedSignal } from '../../machines/signalContext.ts';
import type { Operation } from '../../machines/types.ts';
import { coerceError, describeErrors, ERROR_CODE_LIST, trackerError } from '../../src/errors.ts';
import { toWire } from '../../src/live/messages.ts';
import { ShardRuntime } from '../../src/live/ShardRuntime.ts';
import { replaySync } from '../../src/replay/replay.ts';
import { validateSignal } from '../../src/validation/validateSignal.ts';

const T = 1_700_000_000_000;

function signal(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    v: 1,
    id: 's1',
    symbol: 'ABC',
    side: 'long',
    createdAt: T,
    entry: { type: 'limit', price: 100 },
    takeProfits: [
      { price: 110, fraction: 0.5 },
      { price: 120, fraction: 0.5 },
    ],
    stopLoss: { price: 95 },
    ...overrides,
  };
}

describe('the error catalogue', () => {
  it('documents exactly the codes the code has (docs/ERRORS.md)', () => {
    const doc = readFileSync(new URL('../../docs/ERRORS.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...ERROR_CODE_LIST].sort());
  });

  it('coerceError keeps a tracker error and never gives an empty message', () => {
    const rejection = trackerError('SIGNAL_CLOSED', 'signal s1 is already closed');
    expect(coerceError(rejection)).toEqual(rejection);
    expect(coerceError(Object.assign(new Error('too far'), { code: 'EXIT_PRICE_FAR' }))).toEqual({
      code: 'EXIT_PRICE_FAR',
      message: 'too far',
    });
    expect(coerceError(new Error('boom'))).toEqual({ code: 'UNEXPECTED', message: 'boom' });
    // Node's connection errors: an empty message, a code; IPv4 and IPv6 tried at once.
    const refused = Object.assign(new Error(''), { code: 'ECONNREFUSED' });
    expect(coerceError(refused).message).toBe('ECONNREFUSED');
    expect(coerceError(new AggregateError([new Error('a'), new Error('b')], '')).message).toBe('a; b');
    expect(coerceError(new TypeError()).message).toBe('TypeError');
    expect(coerceError('plain text')).toEqual({ code: 'UNEXPECTED', message: 'plain text' });
    expect(coerceError(undefined).message).toBe('undefined');
    // A foreign code (a PostgreSQL SQLSTATE) is not one of ours.
    expect(coerceError(Object.assign(new Error('deadlock'), { code: '40P01' })).code).toBe('UNEXPECTED');
  });

  it('describes errors for a job failure or stderr as "message [CODE]"', () => {
    expect(
      describeErrors([trackerError('PAYLOAD_SCHEMA', 'side: is required'), trackerError('ROI_ORDER', 'roi')]),
    ).toBe('side: is required [PAYLOAD_SCHEMA]; roi [ROI_ORDER]');
  });
});

describe('the level order: one rule for validation and amend', () => {
  it('names each pair out of order, for either side', () => {
    const level = (price: number, field: string) => ({ price, field, name: field });
    expect(
      levelOrderErrors({
        side: 'short',
        pivot: { price: 100, field: 'entry.price', name: 'the entry price' },
        stop: level(99, 'stopLoss.price'),
        takeProfits: [level(90, 'takeProfits[0].price'), level(95, 'takeProfits[1].price')],
      }),
    ).toEqual([
      trackerError('LEVEL_ORDER', 'stopLoss.price: 99 must be above the entry price 100 for a short'),
      trackerError(
        'LEVEL_ORDER',
        'takeProfits[1].price: 95 must be below takeProfits[0].price 90 for a short',
      ),
    ]);
  });

  it('rejects a stop above the entry of a pending long alike in a signal and in an amend of one', () => {
    const checked = validateSignal(signal({ stopLoss: { price: 101 } }));
    expect(checked.ok === false && checked.errors).toEqual([
      trackerError('LEVEL_ORDER', 'stopLoss.price: 101 must be below the entry price 100 for a long'),
    ]);
    const amended = replaySync({
      signals: [signal()],
      ticks: [],
      ops: [{ op: 'amend', id: 's1', ts: T + 1, stopLoss: { price: 101 } }],
    });
    expect(amended.rejectedOps.map((r) => r.errors)).toEqual([
      [trackerError('LEVEL_ORDER', 'stopLoss: 101 must be below the entry price 100 for a long')],
    ]);
  });
});

describe('replay and the live shard give the same code and message for the same rejection', () => {
  /** What the shard runtime stores for `op`, the ids' registration state as Redis holds it. */
  function shardRejection(
    rt: ShardRuntime,
    op: Operation,
    known: 'open' | 'closed' | undefined,
    job: string,
  ): { code: string; message: string }[] {
    const delta = rt.apply(job, { kind: 'op', op }, new Map(known === undefined ? [] : [[op.id, known]]));
    const entry = [...delta.outbox.values()].find((e) => e.kind === 'op');
    if (entry?.kind !== 'op') throw new Error('test bug: no op entry in the outbox');
    return entry.errors.map((message, k) => ({ code: entry.codes![k]!, message }));
  }

  it('for an unknown signal, a closed one, and one the machine refuses', () => {
    const checked = validateSignal(signal());
    if (!checked.ok) throw new Error('test bug: invalid signal');
    const rt = new ShardRuntime(100);
    rt.apply('1', { kind: 'register', signal: checked.signal as NormalizedSignal }, new Map());
    rt.apply('2', { kind: 'ticks', ticks: [toWire({ symbol: 'ABC', ts: T + 1, price: 100 })] }, new Map());

    const unknown: Operation = { op: 'cancel', id: 'nobody', ts: T + 2 };
    const far: Operation = { op: 'exit', id: 's1', ts: T + 3, price: 1000 };
    const cancel: Operation = { op: 'cancel', id: 's1', ts: T + 4 };
    const late: Operation = { op: 'exit', id: 's1', ts: T + 5 };
    const live = [
      shardRejection(rt, unknown, undefined, '3'),
      shardRejection(rt, far, 'open', '4'),
      shardRejection(rt, cancel, 'open', '5'),
      shardRejection(rt, late, 'closed', '6'),
    ];
    const replayed = replaySync({
      signals: [signal()],
      ticks: [{ symbol: 'ABC', ts: T + 1, price: 100 }],
      ops: [unknown, far, cancel, late],
    });
    expect(replayed.rejectedOps.map((r) => r.op)).toEqual([unknown, far, late]);
    expect(live).toEqual([
      replayed.rejectedOps[0]!.errors,
      replayed.rejectedOps[1]!.errors,
      [],
      replayed.rejectedOps[2]!.errors,
    ]);
    expect(live.flat().map((e) => e.code)).toEqual(['SIGNAL_UNKNOWN', 'EXIT_PRICE_FAR', 'SIGNAL_CLOSED']);
    expect(live[0]).toEqual([{ code: 'SIGNAL_UNKNOWN', message: 'unknown signal nobody' }]);
    expect(live[3]).toEqual([{ code: 'SIGNAL_CLOSED', message: 'signal s1 is already closed' }]);
  });
});
