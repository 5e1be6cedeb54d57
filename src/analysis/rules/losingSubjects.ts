import { binomialUpperTail } from '../significance.ts';
import type { TradeSample } from '../tradeSample.ts';
import { pct, pValue } from './format.ts';
import type { Finding, RuleInput } from './ruleTypes.ts';

/** Thresholds of {@link losingSymbol} and {@link losingHour}. */
export const LOSING_SUBJECT = {
  /** Trades a symbol (hour) needs in the window to be tested. */
  minSubjectTrades: 20,
  /** Trades the rest of the group needs (its loss rate is the null hypothesis). */
  minRestTrades: 20,
  /** Family-wise significance level, Bonferroni-corrected over the subjects tested. */
  familyAlpha: 0.05,
};

interface Tally {
  trades: number;
  losses: number;
  sum: number;
  rSum: number;
  rCount: number;
}

type SubjectOf = (s: TradeSample, i: number) => string;

function add(t: Tally, result: number, r: number): void {
  t.trades++;
  if (result < 0) t.losses++;
  t.sum += result;
  if (Number.isFinite(r)) {
    t.rSum += r;
    t.rCount++;
  }
}

const HOUR_LABELS = Array.from({ length: 24 }, (_, h) => {
  const hh = (x: number): string => String(x).padStart(2, '0');
  return `${hh(h)}:00-${hh((h + 1) % 24)}:00 UTC`;
});

/** The UTC hour a signal was created, "07:00-08:00 UTC". */
export function hourSubject(s: TradeSample, i: number): string {
  return HOUR_LABELS[Math.floor(s.createdAt[i]! / 3_600_000) % 24]!;
}

function symbolSubject(s: TradeSample, i: number): string {
  return s.symbols[s.symbol[i]!]!;
}

function losingSubjects(
  rule: 'losing_symbol' | 'losing_hour',
  what: string,
  subjectOf: SubjectOf,
  input: RuleInput,
  t: typeof LOSING_SUBJECT,
): Finding[] {
  const { window } = input;
  const tallies = new Map<string, Tally>();
  const total: Tally = { trades: 0, losses: 0, sum: 0, rSum: 0, rCount: 0 };
  for (let i = 0; i < window.n; i++) {
    const key = subjectOf(window, i);
    let tally = tallies.get(key);
    if (tally === undefined) {
      tally = { trades: 0, losses: 0, sum: 0, rSum: 0, rCount: 0 };
      tallies.set(key, tally);
    }
    const result = window.result[i]!;
    const r = window.rMultiple[i]!;
    add(tally, result, r);
    add(total, result, r);
  }
  const candidates = [...tallies].filter(
    ([, s]) => s.trades >= t.minSubjectTrades && total.trades - s.trades >= t.minRestTrades,
  );
  const tested = candidates.length;
  const findings: Finding[] = [];
  for (const [subject, s] of candidates.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const restTrades = total.trades - s.trades;
    const restLossRate = (total.losses - s.losses) / restTrades;
    const p = binomialUpperTail(s.losses, s.trades, restLossRate);
    const adjusted = Math.min(1, p * tested);
    const meanResult = s.sum / s.trades;
    if (!(adjusted < t.familyAlpha) || !(meanResult < 0)) continue;
    const lossRate = s.losses / s.trades;
    findings.push({
      rule,
      severity: 'warning',
      subject,
      evidence: {
        [what]: subject,
        trades: s.trades,
        losses: s.losses,
        lossRate,
        meanResult,
        sumResult: s.sum,
        meanR: s.rCount > 0 ? s.rSum / s.rCount : null,
        restTrades,
        restLossRate,
        pValue: p,
        adjustedPValue: adjusted,
        tested,
        familyAlpha: t.familyAlpha,
      },
      recommendation:
        `${input.label} consistently loses ${what === 'symbol' ? 'on' : 'in'} ${subject}: ${pct(lossRate)} of its ` +
        `${s.trades} trades there lose against ${pct(restLossRate)} elsewhere, ${pct(meanResult)} per trade ` +
        `(${pValue(adjusted)} after correcting for ${tested} ${what}s tested). ` +
        (what === 'symbol'
          ? `Exclude ${subject} from it or tune its parameters for that market.`
          : `Stop trading it in that hour or find out what makes that hour different (sessions, news, liquidity).`),
    });
  }
  return findings;
}

/**
 * `losing_symbol`: a symbol on which the group loses significantly more often than on its other
 * symbols (exact one-sided binomial test against the rest's loss rate, Bonferroni-corrected)
 * and whose mean result is negative.
 */
export function losingSymbol(input: RuleInput, t = LOSING_SUBJECT): Finding[] {
  return losingSubjects('losing_symbol', 'symbol', symbolSubject, input, t);
}

/** `losing_hour`: the same test over the UTC hour in which the signals were created. */
export function losingHour(input: RuleInput, t = LOSING_SUBJECT): Finding[] {
  return losingSubjects('losing_hour', 'hour', hourSubject, input, t);
}
