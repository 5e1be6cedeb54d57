/**
 * The analyzer's numerics against closed forms and values worked out by hand (in the comments).
 */
import { describe, expect, it } from 'vitest';
import { pageHinkleyDecrease } from '../../src/analysis/pageHinkley.ts';
import {
  confidenceBucket,
  confidenceCounts,
  populationStabilityIndex,
} from '../../src/analysis/populationStability.ts';
import {
  binomialUpperTail,
  gammaP,
  logGamma,
  moments,
  normalCdf,
  proportionsZTestLess,
  regularizedBeta,
  studentTCdf,
  welchTTestLess,
} from '../../src/analysis/significance.ts';

describe('special functions', () => {
  it('logGamma matches factorials and Γ(1/2) = √π', () => {
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(11)).toBeCloseTo(Math.log(3628800), 11);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
  });

  it('gammaP(1, x) = 1 − e^−x', () => {
    for (const x of [0.1, 1, 3, 10]) expect(gammaP(1, x)).toBeCloseTo(1 - Math.exp(-x), 12);
  });

  it('regularizedBeta(x, 1, 1) = x and I_x(a, 1) = x^a', () => {
    expect(regularizedBeta(0.3, 1, 1)).toBeCloseTo(0.3, 12);
    expect(regularizedBeta(0.7, 3, 1)).toBeCloseTo(0.343, 12);
  });
});

describe('normalCdf', () => {
  it('matches the standard normal table, far tails included', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 14);
    expect(normalCdf(1)).toBeCloseTo(0.841344746068543, 12);
    expect(normalCdf(-1.959963984540054)).toBeCloseTo(0.025, 12);
    expect(normalCdf(-3)).toBeCloseTo(0.00134989803163009, 14);
    // Relative accuracy in the far tail, where 1 − Φ(|z|) would cancel to 0.
    expect(normalCdf(-8) / 6.22096057427178e-16).toBeCloseTo(1, 9);
  });
});

describe('studentTCdf', () => {
  it('equals the closed forms for 1, 2 and 3 degrees of freedom', () => {
    for (const t of [-3, -1, -0.2, 0.5, 2.5]) {
      expect(studentTCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 12);
      expect(studentTCdf(t, 2)).toBeCloseTo(0.5 + t / (2 * Math.sqrt(2 + t * t)), 12);
      const s = t / Math.sqrt(3);
      expect(studentTCdf(t, 3)).toBeCloseTo(0.5 + (s / (1 + s * s) + Math.atan(s)) / Math.PI, 12);
    }
  });

  it('gives the tabulated critical values', () => {
    // t_{0.975, 10} = 2.228139, t_{0.995, 5} = 4.032143 (any t table).
    expect(studentTCdf(2.228138851986, 10)).toBeCloseTo(0.975, 9);
    expect(studentTCdf(-4.032142983557, 5)).toBeCloseTo(0.005, 9);
  });

  it('tends to the normal for large df', () => {
    expect(studentTCdf(-1.959963984540054, 1e7)).toBeCloseTo(0.025, 6);
  });
});

describe('binomialUpperTail', () => {
  it('is the exact tail', () => {
    // P(X ≥ 8 | 10, ½) = (C(10,8) + C(10,9) + C(10,10)) / 2^10 = 56 / 1024.
    expect(binomialUpperTail(8, 10, 0.5)).toBeCloseTo(56 / 1024, 13);
    // P(X ≥ 3 | 5, 0.2) = 10·0.008·0.64 + 5·0.0016·0.8 + 0.00032 = 0.05792.
    expect(binomialUpperTail(3, 5, 0.2)).toBeCloseTo(0.05792, 13);
  });

  it('handles the edges', () => {
    expect(binomialUpperTail(0, 10, 0.3)).toBe(1);
    expect(binomialUpperTail(11, 10, 0.3)).toBe(0);
    expect(binomialUpperTail(1, 10, 0)).toBe(0);
    expect(binomialUpperTail(10, 10, 1)).toBe(1);
  });
});

describe('proportionsZTestLess', () => {
  it('uses the pooled standard error', () => {
    // 30/100 vs 45/100: pooled 0.375, se = √(0.375·0.625·0.02) = 0.0684653, z = −0.15/se = −2.190890,
    // p = Φ(z) = 0.014229 (statsmodels proportions_ztest(..., alternative='smaller') agrees).
    const r = proportionsZTestLess(30, 100, 45, 100);
    expect(r.statistic).toBeCloseTo(-2.19089023, 7);
    expect(r.pValue).toBeCloseTo(0.0142296, 6);
  });

  it('answers p = 0.5 when both samples are all wins', () => {
    expect(proportionsZTestLess(10, 10, 20, 20)).toEqual({ statistic: 0, pValue: 0.5 });
  });
});

describe('welchTTestLess', () => {
  it('computes t and the Welch–Satterthwaite df', () => {
    // a = 1..5: mean 3, var 2.5; b = 2,4,…,10: mean 6, var 10. se² = 0.5 + 2 = 2.5,
    // t = −3/√2.5 = −1.8973666, df = 2.5² / (0.5²/4 + 2²/4) = 6.25 / 1.0625 = 5.8823529.
    const a = moments([1, 2, 3, 4, 5]);
    const b = moments([2, 4, 6, 8, 10]);
    expect(a).toEqual({ n: 5, mean: 3, variance: 2.5 });
    const r = welchTTestLess(a, b);
    expect(r.statistic).toBeCloseTo(-1.8973666, 6);
    expect(r.df).toBeCloseTo(5.8823529, 6);
    expect(r.pValue).toBeCloseTo(studentTCdf(r.statistic, r.df), 14);
    // scipy.stats.ttest_ind(a, b, equal_var=False) gives two-sided p = 0.1073: one-sided half of it.
    expect(r.pValue).toBeCloseTo(0.0537, 3);
  });

  it('is certain when both variances are 0', () => {
    expect(welchTTestLess(moments([1, 1]), moments([2, 2])).pValue).toBe(0);
    expect(welchTTestLess(moments([3, 3]), moments([2, 2])).pValue).toBe(1);
  });
});

describe('pageHinkleyDecrease', () => {
  it('alarms when the accumulated shortfall passes λ and dates the change after the last peak', () => {
    // hand, δ = 0: means 1,1,1,1 then 0.8, 0.667, 0.571; U = 0,0,0,0, −0.8, −1.467, −2.038;
    // M − U passes λ = 1.5 at index 6; U last peaked at index 3, so the change starts at index 4.
    const r = pageHinkleyDecrease([1, 1, 1, 1, 0, 0, 0, 0], { delta: 0, lambda: 1.5 });
    expect(r).toEqual({
      alarmIndex: 6,
      changeIndex: 4,
      statistic: expect.closeTo(2.0381, 4) as unknown as number,
    });
  });

  it('stays silent below λ', () => {
    const r = pageHinkleyDecrease([1, 1, 1, 1, 0, 0, 0, 0], { delta: 0, lambda: 2.6 });
    expect(r.alarmIndex).toBeNull();
    // After the last 0: mean 0.5, U = −2.038 − 0.5 = −2.538, the largest M − U.
    expect(r.statistic).toBeCloseTo(0.8 + 2 / 3 + 4 / 7 + 0.5, 10);
  });

  it('judges the first observations against a reference mean', () => {
    // Reference mean 1 (count 4) makes the same stream's first 0s a fall right away:
    // means 0.8, 0.667, 0.571, 0.5; M − U = 0.8, 1.467, 2.038 → alarm at index 2, change at 0.
    const r = pageHinkleyDecrease([0, 0, 0, 0], { delta: 0, lambda: 1.5, reference: { mean: 1, count: 4 } });
    expect(r.alarmIndex).toBe(2);
    expect(r.changeIndex).toBe(0);
  });

  it('skips non-finite values', () => {
    const r = pageHinkleyDecrease([1, NaN, 1, 1, 1, NaN, 0, 0, 0, 0], { delta: 0, lambda: 1.5 });
    expect(r.alarmIndex).toBe(8);
    expect(r.changeIndex).toBe(6);
  });
});

describe('populationStabilityIndex', () => {
  it('is Σ (a − e) ln(a / e) over the buckets', () => {
    // e = (½, ½), a = (¼, ¾): −¼·ln ½ + ¼·ln 1.5 = 0.1732868 + 0.1013663 = 0.2746531.
    const e = [50, 50, 0, 0, 0, 0, 0, 0, 0, 0];
    const a = [25, 75, 0, 0, 0, 0, 0, 0, 0, 0];
    expect(populationStabilityIndex(e, a)).toBeCloseTo(0.2746531, 7);
    expect(populationStabilityIndex(e, e)).toBe(0);
  });

  it('floors an empty bucket at 1e-4 instead of dividing by 0', () => {
    // e = (1, 0), a = (0, 1) → both floored: 2 · (1 − 1e-4) · ln(1e4) = 18.4188.
    expect(populationStabilityIndex([10, 0], [0, 10])).toBeCloseTo(2 * 0.9999 * Math.log(1e4), 8);
  });

  it('is NaN for an empty side', () => {
    expect(populationStabilityIndex([0, 0], [1, 1])).toBeNaN();
  });

  it('buckets confidences as the calibration deciles do', () => {
    expect([0, 0.1, 0.2999999, 0.3, 0.95, 1, 1.2, -0.1].map(confidenceBucket)).toEqual([
      0, 1, 2, 3, 9, 9, 9, 0,
    ]);
    expect(confidenceCounts([0.05, 0.55, 0.56, NaN])).toEqual([1, 0, 0, 0, 0, 2, 0, 0, 0, 0]);
  });
});
