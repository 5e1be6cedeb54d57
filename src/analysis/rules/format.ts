/** Number formatting for recommendations: short, unambiguous, locale-free. */

/** 0.1234 → "12.3 %". */
export function pct(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}

/** A p-value: "p = 0.0031", "p < 0.0001". */
export function pValue(p: number): string {
  return p < 1e-4 ? 'p < 0.0001' : `p = ${p.toPrecision(2)}`;
}

/** A plain number with up to `digits` decimals, trailing zeros dropped. */
export function fixed(x: number, digits = 3): string {
  return String(Number(x.toFixed(digits)));
}

/** Milliseconds as "4.5 min" / "1.2 h" / "850 ms". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${fixed(ms / 1000, 1)} s`;
  if (ms < 3_600_000) return `${fixed(ms / 60_000, 1)} min`;
  return `${fixed(ms / 3_600_000, 1)} h`;
}

/** A finite number, or null (JSON has no NaN). */
export function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
