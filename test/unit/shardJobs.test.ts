import { describe, expect, it } from 'vitest';
import {
  checkShardJob,
  MAX_BATCH_SIGNALS,
  registrationJobs,
  type ShardJobData,
} from '../../src/live/messages.ts';
import { ShardRuntime, APPLIED_CUSTOM_KEPT } from '../../src/live/ShardRuntime.ts';
import { forwardedOpJobId } from '../../src/names.ts';
import { normalize } from '../support/runEngine.ts';

const T = 1_700_000_000_000;
const signal = normalize([
  {
    v: 1,
    id: 's1',
    symbol: 'XYZ',
    side: 'long',
    createdAt: T,
    entry: { type: 'market' },
    takeProfits: [{ price: 110, fraction: 1 }],
    stopLoss: { price: 90 },
  },
])[0]!;

describe('checkShardJob: anything a producer can put on a public shard queue', () => {
  it.each([
    [null, 'job data must be a JSON object with a "kind"'],
    [[1, 2], 'job data must be a JSON object with a "kind"'],
    [{}, 'unknown job kind undefined'],
    [{ kind: 'explode' }, 'unknown job kind "explode"'],
    [{ kind: 'register' }, 'signal: must be an object (a normalized signal)'],
    [
      { kind: 'register', signal: { id: '', side: 'up' } },
      'signal.id: must be a non-empty string; signal.symbol: must be a non-empty string; signal.side: must be "long" or "short"; signal.createdAt: must be an integer; signal.entry: must be an object',
    ],
    [{ kind: 'op' }, 'op: must be an object (an operation)'],
    [
      { kind: 'op', op: { id: 's1', op: 'cancel' } },
      'op: needs a string "id", a string "op" and an integer "ts"',
    ],
    [{ kind: 'ticks', ticks: 42 }, 'ticks: must be an array'],
    [{ kind: 'sweep', clock: 'soon', graceMs: 1 }, 'sweep: needs numbers "clock" and "graceMs"'],
    [{ kind: 'forget', ids: [1] }, 'forget: "ids" must be an array of strings'],
    [{ kind: 'register-batch' }, 'signals: must be a non-empty array of normalized signals'],
    [{ kind: 'register-batch', signals: [] }, 'signals: must be a non-empty array of normalized signals'],
    [
      { kind: 'register-batch', signals: [signal, 'x', { ...signal, side: 'up' }] },
      'signals[1]: must be an object (a normalized signal); signals[2].side: must be "long" or "short"',
    ],
    [
      { kind: 'register-batch', signals: Array.from({ length: MAX_BATCH_SIGNALS + 1 }, () => signal) },
      `signals: at most ${MAX_BATCH_SIGNALS} a job (got ${MAX_BATCH_SIGNALS + 1})`,
    ],
  ])('refuses %j: %s', (data, reason) => {
    expect(checkShardJob(data)).toEqual({ ok: false, reason });
  });

  it.each<ShardJobData>([
    { kind: 'ticks', ticks: [['XYZ', T, 100]] },
    { kind: 'register', signal },
    { kind: 'register-batch', signals: [signal, { ...signal, id: 's2' }] },
    { kind: 'op', op: { op: 'cancel', id: 's1', ts: T } },
    { kind: 'sweep', clock: T, graceMs: 60_000 },
    { kind: 'forget', ids: ['s1'] },
  ])('accepts a well-formed %s job', (data) => {
    expect(checkShardJob(data)).toEqual({ ok: true, data });
  });
});

describe('registrationJobs: what the intake adds for one shard', () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => ({ ...signal, id: `r${i}` }));

  it('sends one signal as a plain register job, named by its id', () => {
    expect(registrationJobs([signal])).toEqual([{ name: 'register:s1', data: { kind: 'register', signal } }]);
  });

  it(`sends more as register-batch jobs of at most ${MAX_BATCH_SIGNALS}, in order, each one a well-formed job`, () => {
    const signals = many(MAX_BATCH_SIGNALS * 2 + 1);
    const jobs = registrationJobs(signals);
    expect(jobs.map((j) => j.name)).toEqual([
      `register:r0 +${MAX_BATCH_SIGNALS - 1}`,
      `register:r${MAX_BATCH_SIGNALS} +${MAX_BATCH_SIGNALS - 1}`,
      `register:r${MAX_BATCH_SIGNALS * 2}`,
    ]);
    const ids = jobs.flatMap(({ data }) =>
      data.kind === 'register-batch'
        ? data.signals.map((s) => s.id)
        : data.kind === 'register'
          ? [data.signal.id]
          : [],
    );
    expect(ids).toEqual(signals.map((s) => s.id));
    for (const { data } of jobs) expect(checkShardJob(data)).toEqual({ ok: true, data });
  });

  it('cuts at the size asked for, never above the bound', () => {
    expect(registrationJobs(many(5), 2).map((j) => j.data.kind)).toEqual([
      'register-batch',
      'register-batch',
      'register',
    ]);
    expect(registrationJobs(many(1500), 5000)).toHaveLength(2);
  });
});

describe('checkShardJob: registrations and operations a foreign producer made (found by fuzzing)', () => {
  it.each([
    ['a take-profit at NaN (null through JSON)', { ...signal, takeProfits: [{ price: null, fraction: 1 }] }],
    ['a negative stop', { ...signal, stopLoss: { price: -5 } }],
    ['take-profits that are not an array', { ...signal, takeProfits: 'soon' }],
    ['an entry without its type', { ...signal, entry: {} }],
  ])('refuses a registration whose signal validation refuses: %s', (_name, bad) => {
    const checked = checkShardJob({ kind: 'register', signal: bad });
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.reason).toMatch(/^signal: not a valid signal: .+\[[A-Z_]+\]/);
  });

  it('refuses a batch whose one signal validation refuses, naming it by its place', () => {
    const checked = checkShardJob({
      kind: 'register-batch',
      signals: [signal, { ...signal, id: 's2', stopLoss: { price: -5 } }],
    });
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.reason).toMatch(/^signals\[1\]: not a valid signal: .+\[[A-Z_]+\]/);
  });

  it('refuses an operation the signal-ops contract refuses, naming why', () => {
    const checked = checkShardJob({ kind: 'op', op: { op: 'explode', id: 's1', ts: T } });
    expect(checked).toEqual({
      ok: false,
      reason: 'op: not a valid operation: op: must be one of "exit", "cancel", "amend" [PAYLOAD_SCHEMA]',
    });
    expect(checkShardJob({ kind: 'op', op: { op: 'cancel', id: 's1', ts: T, extra: 1 } }).ok).toBe(false);
  });

  it('keeps the reason for an unknown kind short whatever the kind', () => {
    const checked = checkShardJob({ kind: 'x'.repeat(70_000) });
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.reason.length).toBeLessThan(200);
  });
});

describe('ShardRuntime: tick symbols the checkpoint cannot hold (found by fuzzing)', () => {
  it('skips and counts a tick whose symbol has a lone surrogate or is longer than any signal’s, applying the rest', () => {
    const rt = new ShardRuntime(100);
    rt.apply('1', { kind: 'register', signal }, new Map());
    const delta = rt.apply(
      '2',
      {
        kind: 'ticks',
        ticks: [
          ['X\ud800', T + 1, 100],
          ['Y'.repeat(65), T + 2, 100],
          ['XYZ', T + 3, 100],
        ],
      },
      new Map(),
    );
    expect(delta.poisonTicks).toBe(2);
    expect([...delta.recent.keys()]).toEqual(['XYZ']);
  });
});

describe('ShardRuntime: which jobs are already applied', () => {
  it("compares BullMQ's own ids by value; digits BullMQ takes as a custom id hide no later job", () => {
    const rt = new ShardRuntime(0);
    expect(rt.hasApplied('1')).toBe(false);
    rt.noteApplied('41');
    expect(rt.hasApplied('40')).toBe(true);
    expect(rt.hasApplied('42')).toBe(false);
    // BullMQ refuses a custom id only when parseInt gives it back unchanged: a zero-padded one,
    // or one past Number's precision (a snowflake id), is a producer's, and says nothing of order.
    for (const custom of ['0099', '9007199254740993', '1234567890123456789']) {
      rt.noteApplied(custom);
      expect(rt.hasApplied(custom), custom).toBe(true);
      expect(rt.hasApplied('42'), `42 after ${custom}`).toBe(false);
    }
    expect(rt.appliedAuto).toBe('41');
  });

  it('remembers custom ids one by one: a custom id such as 1e20 hides no later job', () => {
    const rt = new ShardRuntime(0);
    rt.noteApplied('5');
    rt.noteApplied('1e20');
    expect(rt.hasApplied('1e20')).toBe(true);
    expect(rt.hasApplied('6')).toBe(false);
    expect(rt.hasApplied('5')).toBe(true);
    expect(rt.hasApplied('other')).toBe(false);
    rt.noteApplied('6');
    expect(rt.hasApplied('1e20')).toBe(true);
  });

  it(`keeps the latest ${APPLIED_CUSTOM_KEPT} custom ids`, () => {
    const rt = new ShardRuntime(0);
    for (let i = 0; i <= APPLIED_CUSTOM_KEPT; i++) rt.noteApplied(`c-${i}`);
    expect(rt.hasApplied('c-0')).toBe(false);
    expect(rt.hasApplied('c-1')).toBe(true);
    expect(rt.hasApplied(`c-${APPLIED_CUSTOM_KEPT}`)).toBe(true);
  });

  it('keeps forwarded operations apart: other custom ids do not push them out, before or after a take-over', () => {
    const rt = new ShardRuntime(0);
    const op = forwardedOpJobId('ops-job-1');
    rt.noteApplied(op);
    for (let i = 0; i <= APPLIED_CUSTOM_KEPT; i++) rt.noteApplied(`tick-batch-${i}`);
    expect(rt.hasApplied(op)).toBe(true);
    expect(rt.hasApplied('tick-batch-0')).toBe(false);
    const restored = ShardRuntime.restore(
      0,
      { appliedJob: 'x', appliedCustom: [op, ...rt.appliedCustom] },
      new Map(),
      [],
      new Map(),
    );
    restored.noteApplied('tick-batch-next');
    expect(restored.hasApplied(op)).toBe(true);
    for (let i = 0; i <= APPLIED_CUSTOM_KEPT; i++) restored.noteApplied(forwardedOpJobId(`later-${i}`));
    expect(restored.hasApplied(op)).toBe(false);
    expect(restored.hasApplied('tick-batch-next')).toBe(true);
    // Operations from both lists (the version before kept them among the custom ids): the latest kept.
    const ops = Array.from({ length: APPLIED_CUSTOM_KEPT + 200 }, (_, i) => forwardedOpJobId(`both-${i}`));
    const fromBoth = ShardRuntime.restore(
      0,
      { appliedJob: 'x', appliedCustom: ops },
      new Map(),
      [],
      new Map(),
    );
    expect(fromBoth.appliedOps.size).toBe(APPLIED_CUSTOM_KEPT);
    expect(fromBoth.hasApplied(ops[199]!)).toBe(false);
    expect(fromBoth.hasApplied(ops[200]!)).toBe(true);
  });
});

describe('ShardRuntime: forgetting closed signals, and what it refuses', () => {
  it('forgets only ids that closed here and are not tracked again', () => {
    const rt = new ShardRuntime(100);
    rt.apply('1', { kind: 'register', signal }, new Map());
    const delta = rt.apply(
      '2',
      { kind: 'forget', ids: ['s1', 'gone', 'never'] },
      new Map([
        ['s1', 'open'],
        ['gone', 'closed'],
      ]),
    );
    expect([...delta.forget]).toEqual(['gone']);
  });

  it('throws on an unknown job kind instead of doing nothing', () => {
    const rt = new ShardRuntime(0);
    expect(() => rt.apply('1', { kind: 'explode' } as unknown as ShardJobData, new Map())).toThrow(
      'unknown shard job kind "explode"',
    );
  });

  it('skips and counts ticks later than maxTickTs, and malformed wire ticks, applying the rest', () => {
    const rt = new ShardRuntime(100);
    rt.apply('1', { kind: 'register', signal }, new Map());
    const delta = rt.apply(
      '2',
      {
        kind: 'ticks',
        ticks: [['XYZ', T, 100], null as never, ['XYZ', T + 10_000, 111], ['XYZ', T + 1, 101]],
      },
      new Map(),
      T + 5_000,
    );
    expect(delta.futureTicks).toBe(1);
    expect(delta.poisonTicks).toBe(1);
    // The tick from the future did not freeze the symbol: a tick after the good one applies.
    expect(delta.lateTicks).toBe(0);
    expect(delta.recent.get('XYZ')?.map((t) => t.ts)).toEqual([T, T + 1]);
  });
});
