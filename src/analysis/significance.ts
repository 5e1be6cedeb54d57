/**
 * The distributions and hypothesis tests the insight rules use. Pure numerics, no dependency:
 * log-gamma by Lanczos (g = 7, n = 9), the regularized incomplete gamma and beta functions by
 * series and Lentz continued fractions (Numerical Recipes §6.2, §6.4). Accurate to ~1e-12 over the
 * ranges the rules use, checked against published tables in test/unit/analyzer.significance.test.ts.
 */

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0. */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

const EPS = 1e-15;
const TINY = 1e-300;
const MAX_ITER = 10_000;

/** Regularized lower incomplete gamma P(a, x). */
export function gammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < MAX_ITER; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * EPS) break;
    }
    return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
  }
  return 1 - gammaQContinuedFraction(a, x);
}

/** Regularized upper incomplete gamma Q(a, x) = 1 − P(a, x), without cancellation in the tail. */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (x < a + 1) return 1 - gammaP(a, x);
  return gammaQContinuedFraction(a, x);
}

function gammaQContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** Standard normal CDF Φ(z), accurate in both tails (through erfc = Q(½, z²/2·2)). */
export function normalCdf(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  if (z === Infinity) return 1;
  if (z === -Infinity) return 0;
  const q = 0.5 * gammaQ(0.5, (z * z) / 2);
  return z < 0 ? q : 1 - q;
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < MAX_ITER; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b), a, b > 0, x in [0, 1]. */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // The continued fraction converges fast for x < (a+1)/(a+b+2); use the symmetry otherwise.
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** Student's t CDF with `df` degrees of freedom (df > 0, fractional allowed: Welch). */
export function studentTCdf(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return Number.NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = 0.5 * regularizedBeta(df / (df + t * t), df / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

/** P(X ≥ k) for X ~ Binomial(n, p): the exact upper tail, as I_p(k, n − k + 1). */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  return regularizedBeta(p, k, n - k + 1);
}

/** A test statistic and its one-sided p-value. */
export interface TestResult {
  statistic: number;
  pValue: number;
}

/**
 * Two-proportion z-test, one-sided: is the first proportion (x1 of n1) lower than the second
 * (x2 of n2)? Pooled standard error, as in every textbook (and statsmodels'
 * `proportions_ztest(..., alternative='smaller')`). With a pooled proportion of 0 or 1 the two
 * samples are identical: z = 0, p = 0.5.
 */
export function proportionsZTestLess(x1: number, n1: number, x2: number, n2: number): TestResult {
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (!(se > 0)) return { statistic: 0, pValue: 0.5 };
  const z = (p1 - p2) / se;
  return { statistic: z, pValue: normalCdf(z) };
}

/** Mean, sample variance (ddof 1) and count of a sample. */
export interface Moments {
  n: number;
  mean: number;
  variance: number;
}

/** {@link Moments} of the finite values of `xs` (Welford's update, one pass). */
export function moments(xs: Iterable<number>): Moments {
  let n = 0;
  let mean = 0;
  let m2 = 0;
  for (const x of xs) {
    if (!Number.isFinite(x)) continue;
    n++;
    const d = x - mean;
    mean += d / n;
    m2 += d * (x - mean);
  }
  return { n, mean: n === 0 ? Number.NaN : mean, variance: n < 2 ? Number.NaN : m2 / (n - 1) };
}

/** Welch's t-test result with its Welch–Satterthwaite degrees of freedom. */
export interface WelchResult extends TestResult {
  df: number;
}

/**
 * Welch's unequal-variance t-test, one-sided: is the mean of `a` lower than the mean of `b`?
 * As scipy's `ttest_ind(a, b, equal_var=False, alternative='less')`. Both samples need n ≥ 2.
 * When both variances are 0 the difference is certain: p = 0 if a's mean is lower, else 1.
 */
export function welchTTestLess(a: Moments, b: Moments): WelchResult {
  const va = a.variance / a.n;
  const vb = b.variance / b.n;
  const se2 = va + vb;
  if (!(se2 > 0)) {
    const lower = a.mean < b.mean;
    return {
      statistic: lower ? -Infinity : a.mean > b.mean ? Infinity : 0,
      df: Number.NaN,
      pValue: lower ? 0 : a.mean > b.mean ? 1 : 0.5,
    };
  }
  const t = (a.mean - b.mean) / Math.sqrt(se2);
  const df = (se2 * se2) / ((va * va) / (a.n - 1) + (vb * vb) / (b.n - 1));
  return { statistic: t, df, pValue: studentTCdf(t, df) };
}
