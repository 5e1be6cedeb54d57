import { pct } from './format.ts';
import type { Finding, RuleInput } from './ruleTypes.ts';

/** Thresholds of {@link tpBeyondTp1Rare}. */
export const TP_BEYOND_TP1_RARE = {
  /** Trades that filled TP1 and kept a remainder open, needed in the window. */
  minContinued: 30,
  /** Reported (`info`) when at most this share of them reaches TP2 or beyond. */
  maxShare: 0.2,
  /** `warning` at or below this share. */
  warningShare: 0.1,
};

/**
 * `tp_beyond_tp1_rare`: of the trades that filled TP1 and kept part of the position open, few
 * reach TP2 or a later TP. The later targets are too far, or the rest is stopped out first.
 */
export function tpBeyondTp1Rare(input: RuleInput, t = TP_BEYOND_TP1_RARE): Finding[] {
  const { window } = input;
  let continued = 0;
  let beyond = 0;
  let restSum = 0;
  for (let i = 0; i < window.n; i++) {
    if (window.continuedAfterTp1[i] !== 1) continue;
    continued++;
    if (window.maxTpLevel[i]! >= 2) beyond++;
    restSum += window.result[i]!;
  }
  if (continued < t.minContinued) return [];
  const share = beyond / continued;
  if (share > t.maxShare) return [];
  return [
    {
      rule: 'tp_beyond_tp1_rare',
      severity: share <= t.warningShare ? 'warning' : 'info',
      evidence: {
        continuedAfterTp1: continued,
        reachedTp2OrLater: beyond,
        share,
        meanResultOfThoseTrades: restSum / continued,
        maxShare: t.maxShare,
      },
      recommendation:
        `Only ${pct(share)} of the trades of ${input.label} that filled TP1 went on to TP2 or further ` +
        `(${beyond} of ${continued}). Bring the later targets closer, take a larger fraction at TP1, ` +
        'or trail the remainder instead of waiting for a distant target.',
    },
  ];
}
