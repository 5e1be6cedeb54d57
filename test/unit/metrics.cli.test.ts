/**
 * `outcome-tracker metrics`: input parsing, output contract and exit codes. The numbers
 * are the published ones the metric tests use (empyrical-reloaded `tests/test_stats.py`,
 * freqtrade `tests/data/test_metrics.py`); this file checks they come through the CLI.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_BAD_INPUT, metricsCommand } from '../../src/cli/metricsCommand.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(args: string[], stdin = ''): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        append(chunk.toString());
        done();
      },
    });
  const out = sink((s) => (stdout += s));
  const err = sink((s) => (stderr += s));
  const code = await metricsCommand(args, { stdin: Readable.from([stdin]), stdout: out, stderr: err });
  out.end();
  err.end();
  return { code, stdout, stderr };
}

async function runJson(input: unknown, args: string[] = []): Promise<Record<string, unknown>> {
  const result = await run(args, JSON.stringify(input));
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout.endsWith('\n')).toBe(true);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

const RETURN_KEYS = [
  'sharpe',
  'sortino',
  'downsideRisk',
  'maxDrawdown',
  'annualReturn',
  'annualVolatility',
  'calmar',
  'omega',
  'tailRatio',
  'valueAtRisk',
  'cumReturn',
  'nullReasons',
];

// empyrical-reloaded tests/conftest.py mixed_returns; JSON has no nan, so the missing period is null.
const mixedReturns = [null, 0.01, 0.1, -0.04, 0.02, 0.03, 0.02, 0.01, -0.1];

describe('metrics --input returns', () => {
  it('prints exactly the return metric keys, then nullReasons', async () => {
    const out = await runJson({ returns: mixedReturns });
    expect(Object.keys(out)).toEqual(RETURN_KEYS);
    expect(out.nullReasons).toEqual({});
  });

  it("reads a null as a missing period and matches empyrical's mixed_returns values", async () => {
    const out = await runJson({ returns: mixedReturns, annualization: 252, riskFree: 0, requiredReturn: 0 });
    // empyrical-reloaded tests/test_stats.py: test_sharpe_ratio, test_sortino, test_downside_risk,
    // test_max_drawdown, test_annual_ret, test_annual_volatility, test_calmar (mixed_returns, DAILY).
    expect(out).toMatchObject({
      sharpe: expect.closeTo(1.7238613961706866, 8),
      sortino: expect.closeTo(2.605531251673693, 8),
      downsideRisk: expect.closeTo(0.60448325038829653, 8),
      maxDrawdown: expect.closeTo(-0.1, 8),
      annualReturn: expect.closeTo(1.9135925373194231, 8),
      annualVolatility: expect.closeTo(0.9136465399704637, 8),
      calmar: expect.closeTo(19.135925373194233, 8),
      // test_cum_returns_final (4 places)
      cumReturn: expect.closeTo(0.03893, 4),
    });
  });

  it('passes annualization, requiredReturn and cutoff through', async () => {
    // empyrical-reloaded tests/test_stats.py test_sortino / test_downside_risk (weekly_returns, WEEKLY).
    const weekly = await runJson({
      returns: [0, 0.01, 0.1, -0.04, 0.02, 0.03, 0.02, 0.01, -0.1],
      annualization: 52,
    });
    expect(weekly.sortino).toBeCloseTo(1.1158901056866439, 8);
    // test_omega (mixed_returns, risk_free 0, required_return 10): requiredReturn is annual for omega.
    const omega = await runJson({ returns: mixedReturns, requiredReturn: 10 });
    expect(omega.omega).toBeCloseTo(0.83354263497557934, 8);
    // test_value_at_risk: value_at_risk([1, 2], cutoff=0.3) == 1.3.
    const valueAtRisk = await runJson({ returns: [1, 2], cutoff: 0.3 });
    expect(valueAtRisk.valueAtRisk).toBeCloseTo(1.3, 7);
  });

  it('prints null with the reason for what is not a finite number', async () => {
    // empyrical-reloaded tests/test_stats.py: test_sortino (positive_returns → inf),
    // test_max_drawdown (positive_returns → -0.0), so calmar has no drawdown to divide by.
    const out = await runJson({ returns: [0.01, 0.02, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01] });
    expect(out.sortino).toBeNull();
    expect(out.calmar).toBeNull();
    expect(out.omega).toBeNull();
    expect(out.maxDrawdown).toBe(0);
    expect(out.nullReasons).toEqual({ sortino: 'no_downside', calmar: 'no_drawdown', omega: 'no_downside' });
  });

  it('answers an empty series with every metric null', async () => {
    const out = await runJson({ returns: [] });
    expect(Object.keys(out)).toEqual(RETURN_KEYS);
    expect(Object.values(out).slice(0, 11)).toEqual(Array.from({ length: 11 }, () => null));
    expect(Object.keys(out.nullReasons as object)).toEqual(RETURN_KEYS.slice(0, 11));
  });
});

describe('metrics --input trades', () => {
  it("matches freqtrade's expectancy fixture and reports nulls with reasons", async () => {
    // freqtrade tests/data/test_metrics.py test_calculate_expectancy: profit_abs
    // [100, 200, 50, -150, 300, -100, 80, -30] → expectancy 56.25, expectancy_ratio 0.60267857.
    const trades = [100, 200, 50, -150, 300, -100, 80, -30].map((pnl) => ({ netReturn: pnl / 10_000, pnl }));
    const out = await runJson({ trades });
    expect(out).toMatchObject({
      records: 8,
      trades: 8,
      wins: 5,
      losses: 3,
      draws: 0,
      expectancy: expect.closeTo(56.25, 10),
      expectancyRatio: expect.closeTo(0.60267857, 7),
      winRate: 0.625,
      holdingMsMean: null,
      outcomeMix: null,
      brierScore: null,
    });
    expect(out.nullReasons).toMatchObject({
      holdingMsMean: 'no_holding_times',
      outcomeMix: 'no_outcomes',
      brierScore: 'no_confidence',
    });
    expect(out.calibration).toHaveLength(10);
  });

  it('takes replay output lines: skips unfinished ones and lets unfilled outcomes omit netReturn', async () => {
    const trades = [
      {
        id: 'a',
        state: 'closed',
        outcome: 'TP_HIT',
        netReturn: 0.02,
        holdingMs: 60_000,
        confidence: 0.7,
        legs: [],
      },
      { id: 'b', state: 'open', fill: { ts: 1, price: 100 }, legs: [], mfe: 0.01, mae: 0 },
      { id: 'c', state: 'closed', outcome: 'EXPIRED', legs: [] },
      { id: null, state: 'rejected', errors: ['symbol is required'] },
    ];
    const out = await runJson({ trades });
    // hand: two closed records, one of them a trade; the mix counts both.
    expect(out).toMatchObject({ records: 2, trades: 1, wins: 1, winRate: 1, holdingMsMean: 60_000 });
    expect(out.outcomeMix).toMatchObject({ TP_HIT: 0.5, EXPIRED: 0.5 });
    // hand: (0.7 − 1)² = 0.09.
    expect(out.brierScore).toBeCloseTo(0.09, 12);
  });
});

describe('metrics --input FILE', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'metrics-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the named file instead of stdin', async () => {
    const file = join(dir, 'returns.json');
    await writeFile(file, JSON.stringify({ returns: mixedReturns }));
    const result = await run(['--input', file], 'not json at all');
    expect(result.code).toBe(0);
    // empyrical-reloaded tests/test_stats.py test_sharpe_ratio (mixed_returns, 0.0)
    expect((JSON.parse(result.stdout) as { sharpe: number }).sharpe).toBeCloseTo(1.7238613961706866, 8);
  });

  it('exits 2 naming a file it cannot read', async () => {
    const missing = join(dir, 'missing.json');
    const result = await run(['--input', missing]);
    expect(result).toMatchObject({ code: EXIT_BAD_INPUT, stdout: '' });
    expect(result.stderr).toContain(`metrics: cannot read ${missing}`);
  });
});

describe('metrics bad input', () => {
  it('keeps each problem on one line when the parser quotes a newline or a NUL of the input (found by fuzzing)', async () => {
    const result = await run([], '\n\u0000');
    expect(result.code).toBe(EXIT_BAD_INPUT);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^metrics: stdin is not valid JSON: .*\\u0000/);
  });

  it.each([
    ['invalid JSON', '{"returns": [0.01,', 'stdin is not valid JSON'],
    ['a JSON array', '[0.01, 0.02]', 'input must be a JSON object with "returns" or "trades"'],
    ['neither returns nor trades', '{}', 'input must have "returns"'],
    ['both returns and trades', '{"returns": [], "trades": []}', 'input has both "returns" and "trades"'],
    [
      'a non-numeric return',
      '{"returns": [0.01, "0.02"]}',
      'returns[1] must be a finite number or null, got "0.02"',
    ],
    ['an overflowing return', '{"returns": [1e400]}', 'returns[0] must be a finite number or null'],
    ['returns that are not an array', '{"returns": 0.01}', '"returns" must be an array'],
    ['a misspelt field', '{"returns": [], "riskfree": 0}', 'unknown field "riskfree"'],
    [
      'a zero annualization',
      '{"returns": [], "annualization": 0}',
      '"annualization" must be a positive number, got 0',
    ],
    ['a cutoff above 1', '{"returns": [], "cutoff": 5}', '"cutoff" must be a number within [0, 1], got 5'],
    [
      'a trade without netReturn',
      '{"trades": [{"pnl": 3}]}',
      'trades[0].netReturn must be a finite number, got nothing',
    ],
    [
      'an unknown outcome',
      '{"trades": [{"netReturn": 0, "outcome": "WIN"}]}',
      'trades[0].outcome must be one of',
    ],
    [
      'a confidence above 1',
      '{"trades": [{"netReturn": 0.01, "confidence": 1.2}]}',
      'trades[0].confidence must be a number within [0, 1], got 1.2',
    ],
    [
      'pnl on only some trades',
      '{"trades": [{"netReturn": 0.01, "pnl": 5}, {"netReturn": 0.02}]}',
      '"pnl" is given on 1 of 2 filled trades',
    ],
  ])('exits 2 on %s, naming the problem', async (_case, stdin, problem) => {
    const result = await run([], stdin);
    expect(result).toMatchObject({ code: EXIT_BAD_INPUT, stdout: '' });
    expect(result.stderr).toContain(`metrics: ${problem}`);
  });

  it('reports several problems at once', async () => {
    const result = await run([], '{"returns": ["a", "b"], "cutoff": -1}');
    expect(result.code).toBe(EXIT_BAD_INPUT);
    expect(result.stderr.trim().split('\n')).toHaveLength(3);
  });

  it('exits 2 on an unknown option or a positional argument', async () => {
    for (const args of [['--file', 'x.json'], ['x.json']]) {
      const result = await run(args, '{"returns": []}');
      expect(result).toMatchObject({ code: EXIT_BAD_INPUT, stdout: '' });
      expect(result.stderr).toContain('usage: outcome-tracker metrics [--input FILE]');
    }
  });
});

describe('metrics on replay output lines (outcome-tracker replay --out FILE)', () => {
  const lines = [
    {
      id: 'a',
      state: 'closed',
      outcome: 'TP_HIT',
      netReturn: 0.02,
      rMultiple: 2,
      holdingMs: 60_000,
      legs: [],
    },
    { id: 'b', state: 'open', fill: { ts: 1, price: 100 }, legs: [], mfe: 0.01, mae: 0 },
    {
      id: 'c',
      state: 'closed',
      outcome: 'SL_HIT',
      netReturn: -0.01,
      rMultiple: -1,
      holdingMs: 20_000,
      legs: [],
    },
    { id: 'd', state: 'pending', legs: [] },
    { id: null, state: 'rejected', errors: ['line 3: not valid JSON'] },
    { id: 'e', state: 'closed', outcome: 'EXPIRED', legs: [] },
  ];
  const jsonl = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';

  it('takes the closed lines as trades and counts the skipped ones on stderr', async () => {
    const result = await run([], jsonl);
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout) as Record<string, unknown>;
    // hand: three closed records, two of them trades: one win of 0.02, one loss of 0.01.
    expect(out).toMatchObject({
      records: 3,
      trades: 2,
      wins: 1,
      losses: 1,
      avgR: 0.5,
      holdingMsMean: 40_000,
    });
    expect(out.profitFactor).toBeCloseTo(2, 12);
    expect(result.stderr).toBe('metrics: 3 closed signals of 6 lines; skipped 2 unfinished, 1 rejected\n');
  });

  it('reads them from --input FILE, a leading byte-order mark ignored', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'metrics-lines-'));
    try {
      const file = join(dir, 'outcomes.jsonl');
      await writeFile(file, '\uFEFF' + jsonl);
      const result = await run(['--input', file]);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ records: 3, trades: 2 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the line of a bad one and exits 2', async () => {
    const bad = jsonl + '{"id":"f","state":"closed","outcome":"TP_HIT","netReturn":"lots"}\n{oops\n';
    const result = await run([], bad);
    expect(result).toMatchObject({ code: EXIT_BAD_INPUT, stdout: '' });
    // The parser's own words after "not valid JSON" vary between Node versions (22 adds the column).
    expect(result.stderr).toMatch(
      /^metrics: stdin line 7\.netReturn must be a finite number, got "lots"\nmetrics: stdin line 8: not valid JSON \(Expected property name or '\}' in JSON at position 1( \(line 1 column 2\))?\)\n$/,
    );
  });
});

describe('metrics: a return below -1', () => {
  it('is rejected by its index instead of compounding into nonsense', async () => {
    const result = await run([], JSON.stringify({ returns: [0.01, 0.02, -1.5, 0.01] }));
    expect(result).toMatchObject({ code: EXIT_BAD_INPUT, stdout: '' });
    expect(result.stderr).toBe(
      'metrics: returns[2] is -1.5, below -1 (a loss of more than 100% in one period)\n',
    );
  });

  it('accepts exactly -1, a total loss', async () => {
    const result = await run([], JSON.stringify({ returns: [0.01, -1] }));
    expect(result.code).toBe(0);
  });
});
