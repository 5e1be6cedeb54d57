/**
 * Every insight rule on both sides of its thresholds. Samples are built so that the statistic
 * is worked out by hand in the comment next to it.
 */
import { describe, expect, it } from 'vitest';
import { brierRising } from '../../src/analysis/rules/brierRising.ts';
import { confidenceShift } from '../../src/analysis/rules/confidenceShift.ts';
import { expectancyBelowBaseline } from '../../src/analysis/rules/expectancyBelowBaseline.ts';
import { losingHour, losingSymbol } from '../../src/analysis/rules/losingSubjects.ts';
import { overconfidence } from '../../src/analysis/rules/overconfidence.ts';
import { rChangePoint } from '../../src/analysis/rules/rChangePoint.ts';
import type { RuleInput } from '../../src/analysis/rules/ruleTypes.ts';
import { stopsTooTight } from '../../src/analysis/rules/stopsTooTight.ts';
import { tpBeyondTp1Rare } from '../../src/analysis/rules/tpBeyondTp1Rare.ts';
import { winRateBelowBaseline } from '../../src/analysis/rules/winRateBelowBaseline.ts';
import { tradeSample, type SampleTrade } from '../../src/analysis/tradeSample.ts';

/** `n` trades of which the first `wins` win (+1 %) and the rest lose (−1 %), plus extra fields. */
function winsOf(n: number, wins: number, extra: Partial<SampleTrade> = {}): SampleTrade[] {
  return Array.from({ length: n }, (_, i) => ({ result: i < wins ? 0.01 : -0.01, ...extra }));
}

function input(window: SampleTrade[], baseline: SampleTrade[] | null = null): RuleInput {
  return { label: 'strategy s1', window: tradeSample(window), baseline: baseline && tradeSample(baseline) };
}

describe('win_rate_below_baseline', () => {
  it('warns on a significant fall', () => {
    // 40/100 vs 60/100: pooled ½, se = √(¼·0.02) = 0.0707107, z = −2.828427, p = Φ(z) = 0.002339.
    const [f] = winRateBelowBaseline(input(winsOf(100, 40), winsOf(100, 60)));
    expect(f).toMatchObject({ rule: 'win_rate_below_baseline', severity: 'warning' });
    expect(f!.evidence.z).toBeCloseTo(-2.828427, 6);
    expect(f!.evidence.pValue).toBeCloseTo(0.0023389, 6);
    expect(f!.evidence).toMatchObject({
      windowWinRate: 0.4,
      baselineWinRate: 0.6,
      drop: expect.closeTo(0.2, 12),
    });
    expect(f!.recommendation).toContain('strategy s1');
  });

  it('is critical when p < 0.001 and the fall is 10 points or more', () => {
    // 35/100 vs 60/100: pooled 0.475, se = 0.0706222, z = −3.5400, p = 0.0002.
    expect(winRateBelowBaseline(input(winsOf(100, 35), winsOf(100, 60)))[0]?.severity).toBe('critical');
  });

  it('stays silent when the fall is not significant', () => {
    // 50/100 vs 60/100: z = −1.4213, p = 0.078 > 0.01.
    expect(winRateBelowBaseline(input(winsOf(100, 50), winsOf(100, 60)))).toEqual([]);
  });

  it('stays silent on a significant but small fall (under 5 points)', () => {
    // 57 % vs 60 % over 20 000 trades each: z = −6.1, p ≈ 5e-10, but the drop is 3 points.
    expect(winRateBelowBaseline(input(winsOf(20_000, 11_400), winsOf(20_000, 12_000)))).toEqual([]);
  });

  it('needs 30 trades on each side and a baseline', () => {
    expect(winRateBelowBaseline(input(winsOf(29, 0), winsOf(100, 60)))).toEqual([]);
    expect(winRateBelowBaseline(input(winsOf(100, 0), winsOf(29, 29)))).toEqual([]);
    expect(winRateBelowBaseline(input(winsOf(100, 0), null))).toEqual([]);
    expect(winRateBelowBaseline(input(winsOf(30, 0), winsOf(30, 30)))).toHaveLength(1);
  });
});

describe('expectancy_below_baseline', () => {
  /** n trades alternating hi, lo. */
  const alternating = (n: number, hi: number, lo: number): SampleTrade[] =>
    Array.from({ length: n }, (_, i) => ({ result: i % 2 === 0 ? hi : lo }));

  it('is critical when the window now loses money, significantly', () => {
    // baseline ±0.015 around +0.005, window ±0.015 around −0.005; s² = 0.015²·100/99 each,
    // t = −0.01 / √(2·s²/100) = −0.01 / 0.0021320 = −4.6904, p ≈ 1e-5; effect = 0.01 / 0.0150756 = 0.6633.
    const [f] = expectancyBelowBaseline(input(alternating(100, 0.01, -0.02), alternating(100, 0.02, -0.01)));
    expect(f).toMatchObject({ rule: 'expectancy_below_baseline', severity: 'critical' });
    expect(f!.evidence.t).toBeCloseTo(-4.6904, 4);
    expect(f!.evidence.effectSize).toBeCloseTo(0.6633, 4);
    expect(f!.evidence.windowExpectancy).toBeCloseTo(-0.005, 12);
  });

  it('warns when the expectancy falls but stays positive', () => {
    // window ±0.015 around +0.001: t = −0.004/0.002132 = −1.876 → p ≈ 0.031 > 0.01: not yet;
    // around 0.0 with 400 trades each: t = −0.005/√(2·0.015²·400/399/400) = −4.71: warning (mean 0 is not < 0).
    expect(
      expectancyBelowBaseline(input(alternating(100, 0.016, -0.014), alternating(100, 0.02, -0.01))),
    ).toEqual([]);
    const [f] = expectancyBelowBaseline(
      input(alternating(400, 0.015, -0.015), alternating(400, 0.02, -0.01)),
    );
    expect(f?.severity).toBe('warning');
  });

  it('stays silent on a significant fall with a tiny effect size', () => {
    // ±0.05 spread, fall of 0.005: d = 0.005/0.05 = 0.1 < 0.2, although with 20 000 trades p is tiny.
    expect(
      expectancyBelowBaseline(input(alternating(20_000, 0.05, -0.05), alternating(20_000, 0.055, -0.045))),
    ).toEqual([]);
  });

  it('needs a baseline and 30 trades each', () => {
    expect(
      expectancyBelowBaseline(input(alternating(29, 0.01, -0.02), alternating(100, 0.02, -0.01))),
    ).toEqual([]);
    expect(expectancyBelowBaseline(input(alternating(100, 0.01, -0.02), null))).toEqual([]);
  });
});

describe('r_change_point', () => {
  /** +1.5 R / −1 R alternating: mean 0.25 R, σ ≈ 1.25. */
  const steady = (n: number, t0 = 0): SampleTrade[] =>
    Array.from({ length: n }, (_, i) => ({
      result: 0,
      rMultiple: i % 2 === 0 ? 1.5 : -1,
      closedAt: t0 + i * 60_000,
    }));
  const losing = (n: number, t0: number): SampleTrade[] =>
    Array.from({ length: n }, (_, i) => ({ result: 0, rMultiple: -1, closedAt: t0 + i * 60_000 }));

  it('finds a fall of the mean R inside the window and dates it', () => {
    // 20 steady trades, then −1 R every trade: a fall of 1.25 R = 1 σ; the shortfall per trade is
    // ≈ 1.25 − δ (0.125), so λ = 30 σ = 37.6 R is passed after ~34 losing trades. The last steady
    // trade (index 19) is already a −1 R, so the run of losses, and the change, starts there.
    const window = [...steady(20, 1_000_000), ...losing(100, 1_000_000 + 20 * 60_000)];
    const [f] = rChangePoint(input(window, steady(200)));
    expect(f).toMatchObject({ rule: 'r_change_point', severity: 'critical' });
    expect(f!.evidence.changeAt).toBe(new Date(1_000_000 + 19 * 60_000).toISOString());
    expect(f!.evidence.meanRAfterChange).toBe(-1);
    expect(f!.evidence.baselineMeanR).toBeCloseTo(0.25, 12);
  });

  it('stays silent on a steady stream', () => {
    expect(rChangePoint(input(steady(2000), steady(200)))).toEqual([]);
  });

  it('needs 30 baseline R-multiples and 10 in the window', () => {
    expect(rChangePoint(input(losing(100, 0), steady(29)))).toEqual([]);
    expect(rChangePoint(input(losing(9, 0), steady(200)))).toEqual([]);
    expect(rChangePoint(input(losing(100, 0), null))).toEqual([]);
  });
});

describe('brier_rising', () => {
  it('warns when the Brier score rises significantly', () => {
    // baseline: confidence 0.6, 60 % wins → 0.6·0.16 + 0.4·0.36 = 0.24;
    // window: confidence 0.9, 50 % wins → 0.5·0.01 + 0.5·0.81 = 0.41.
    const [f] = brierRising(
      input(winsOf(100, 50, { confidence: 0.9 }), winsOf(100, 60, { confidence: 0.6 })),
    );
    expect(f).toMatchObject({ rule: 'brier_rising', severity: 'warning' });
    expect(f!.evidence.windowBrier).toBeCloseTo(0.41, 12);
    expect(f!.evidence.baselineBrier).toBeCloseTo(0.24, 12);
  });

  it('stays silent when calibration holds, or with too few forecasts', () => {
    expect(
      brierRising(input(winsOf(100, 60, { confidence: 0.6 }), winsOf(100, 60, { confidence: 0.6 }))),
    ).toEqual([]);
    expect(
      brierRising(input(winsOf(49, 20, { confidence: 0.9 }), winsOf(100, 60, { confidence: 0.6 }))),
    ).toEqual([]);
    // Trades without a confidence do not count.
    expect(brierRising(input(winsOf(100, 50), winsOf(100, 60, { confidence: 0.6 })))).toEqual([]);
  });
});

describe('overconfidence', () => {
  it('is critical at a gap of 15 points or more', () => {
    // 100 trades at 0.8, 50 wins: expected 80, variance 100·0.16 = 16, z = −30/4 = −7.5.
    const [f] = overconfidence(input(winsOf(100, 50, { confidence: 0.8 })));
    expect(f).toMatchObject({ rule: 'overconfidence', severity: 'critical' });
    expect(f!.evidence).toMatchObject({
      z: expect.closeTo(-7.5, 12),
      gap: expect.closeTo(0.3, 12),
      hitRate: 0.5,
    });
  });

  it('warns at a significant gap between 5 and 15 points', () => {
    // 400 trades at 0.6, 200 wins: z = −40/√96 = −4.08; gap 0.1.
    expect(overconfidence(input(winsOf(400, 200, { confidence: 0.6 })))[0]?.severity).toBe('warning');
  });

  it('stays silent when the gap is not significant or too small', () => {
    // 100 at 0.55, 50 wins: z = −5/√24.75 = −1.005, p = 0.157.
    expect(overconfidence(input(winsOf(100, 50, { confidence: 0.55 })))).toEqual([]);
    // 40 000 at 0.53, 20 000 wins: z = −1200/99.8 = −12, but the gap is 3 points.
    expect(overconfidence(input(winsOf(40_000, 20_000, { confidence: 0.53 })))).toEqual([]);
    expect(overconfidence(input(winsOf(49, 0, { confidence: 0.9 })))).toEqual([]);
  });
});

describe('confidence_shift', () => {
  const at = (n: number, confidence: number): SampleTrade[] => winsOf(n, 0, { confidence });

  it('warns on a major shift (PSI ≥ 0.25)', () => {
    // (½, ½) → (¾, ¼): PSI = 0.2746531 (see the PSI test).
    const [f] = confidenceShift(
      input([...at(150, 0.55), ...at(50, 0.65)], [...at(100, 0.55), ...at(100, 0.65)]),
    );
    expect(f).toMatchObject({ rule: 'confidence_shift', severity: 'warning' });
    expect(f!.evidence.psi).toBeCloseTo(0.2746531, 7);
  });

  it('reports a moderate shift (0.1 ≤ PSI < 0.25) as info', () => {
    // (½, ½) → (0.7, 0.3): 0.2·ln 1.4 − 0.2·ln 0.6 = 0.1694596.
    const [f] = confidenceShift(
      input([...at(140, 0.55), ...at(60, 0.65)], [...at(100, 0.55), ...at(100, 0.65)]),
    );
    expect(f?.severity).toBe('info');
    expect(f!.evidence.psi).toBeCloseTo(0.1694596, 7);
  });

  it('stays silent below 0.1 or with fewer than 100 forecasts a side', () => {
    // (½, ½) → (0.625, 0.375): PSI = 0.0638.
    expect(
      confidenceShift(input([...at(125, 0.55), ...at(75, 0.65)], [...at(100, 0.55), ...at(100, 0.65)])),
    ).toEqual([]);
    expect(confidenceShift(input(at(99, 0.95), at(200, 0.55)))).toEqual([]);
  });
});

describe('losing_symbol and losing_hour', () => {
  /** `n` trades on `symbol` of which `losses` lose 2 % and the rest win 1 %. */
  const on = (symbol: string, n: number, losses: number, hour = 0): SampleTrade[] =>
    Array.from({ length: n }, (_, i) => ({
      result: i < losses ? -0.02 : 0.01,
      symbol,
      createdAt: Date.UTC(2025, 0, 1, hour, 30),
    }));

  it('names a symbol that loses significantly more often than the rest, and loses money', () => {
    // AAA: 30 of 40 lose; the rest (BBB, CCC) 40 of 100 → p0 = 0.4, P(X ≥ 30 | 40, 0.4) ≈ 3e-6,
    // × 3 symbols tested, far below 0.05; AAA's mean = (30·−0.02 + 10·0.01)/40 = −0.0125.
    const findings = losingSymbol(input([...on('AAA', 40, 30), ...on('BBB', 50, 20), ...on('CCC', 50, 20)]));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ rule: 'losing_symbol', subject: 'AAA', severity: 'warning' });
    expect(findings[0]!.evidence).toMatchObject({ trades: 40, losses: 30, restLossRate: 0.4, tested: 3 });
    expect(findings[0]!.evidence.meanResult).toBeCloseTo(-0.0125, 12);
  });

  it('does not name a symbol whose losses are within chance', () => {
    // AAA: 12 of 20 lose against 0.4: P(X ≥ 12 | 20, 0.4) = 0.0565 > 0.05 before correction.
    expect(losingSymbol(input([...on('AAA', 20, 12), ...on('BBB', 50, 20), ...on('CCC', 50, 20)]))).toEqual(
      [],
    );
  });

  it('does not name a symbol that loses often but still makes money', () => {
    // AAA: 30 of 40 lose 0.1 % and 10 win 5 %: mean +1.175 %.
    const trades = [
      ...Array.from({ length: 40 }, (_, i) => ({ result: i < 30 ? -0.001 : 0.05, symbol: 'AAA' })),
      ...on('BBB', 100, 40),
    ];
    expect(losingSymbol(input(trades))).toEqual([]);
  });

  it('needs 20 trades on the symbol and 20 elsewhere', () => {
    expect(losingSymbol(input([...on('AAA', 19, 19), ...on('BBB', 100, 40)]))).toEqual([]);
    expect(losingSymbol(input([...on('AAA', 40, 40), ...on('BBB', 19, 0)]))).toEqual([]);
  });

  it('tests UTC hours of signal creation the same way', () => {
    const findings = losingHour(
      input([...on('X', 40, 30, 13), ...on('X', 50, 20, 9), ...on('X', 50, 20, 23)]),
    );
    expect(findings.map((f) => f.subject)).toEqual(['13:00-14:00 UTC']);
    expect(findings[0]!.evidence.hour).toBe('13:00-14:00 UTC');
  });
});

describe('stops_too_tight', () => {
  const stops = (n: number, holdingMs: number, kind: 'initial' | 'breakeven' = 'initial'): SampleTrade[] =>
    Array.from({ length: n }, () => ({ result: -0.01, holdingMs, closeStopKind: kind }));

  it('warns when the median initial stop fills within 5 minutes', () => {
    const [f] = stopsTooTight(input([...stops(20, 60_000), ...winsOf(20, 20)]));
    expect(f).toMatchObject({ rule: 'stops_too_tight', severity: 'warning' });
    expect(f!.evidence).toMatchObject({
      initialStops: 20,
      medianHoldingMs: 60_000,
      shareWithinQuick: 1,
      shareOfTrades: 0.5,
    });
  });

  it('fires at exactly 5 minutes and not above', () => {
    expect(stopsTooTight(input(stops(20, 300_000)))).toHaveLength(1);
    expect(stopsTooTight(input(stops(20, 300_001)))).toEqual([]);
  });

  it('counts only initial stops, and needs 20 of them', () => {
    expect(stopsTooTight(input(stops(40, 1_000, 'breakeven')))).toEqual([]);
    expect(stopsTooTight(input(stops(19, 1_000)))).toEqual([]);
  });
});

describe('tp_beyond_tp1_rare', () => {
  const afterTp1 = (n: number, beyond: number): SampleTrade[] =>
    Array.from({ length: n }, (_, i) => ({
      result: 0.005,
      continuedAfterTp1: true,
      maxTpLevel: i < beyond ? 2 : 1,
    }));

  it('warns at 10 % or less, informs up to 20 %, and is silent above', () => {
    expect(tpBeyondTp1Rare(input(afterTp1(30, 3)))[0]).toMatchObject({
      rule: 'tp_beyond_tp1_rare',
      severity: 'warning',
    });
    expect(tpBeyondTp1Rare(input(afterTp1(30, 6)))[0]?.severity).toBe('info');
    expect(tpBeyondTp1Rare(input(afterTp1(30, 7)))).toEqual([]);
  });

  it('needs 30 trades that went on after TP1', () => {
    // Trades that closed at TP1 (a single TP) had nowhere further to go and do not count.
    const closedAtTp1 = Array.from({ length: 100 }, () => ({ result: 0.01, maxTpLevel: 1 }));
    expect(tpBeyondTp1Rare(input([...afterTp1(29, 0), ...closedAtTp1]))).toEqual([]);
  });
});
