/**
 * Every insight rule, in the order the analyzer runs them (docs/INSIGHTS.md). The analyzer runs
 * them on the groups of kinds {@link INSIGHT_GROUP_KINDS}: symbol and timeframe groups are
 * dimensions the rules break down by, not subjects of their own.
 */
import type { GroupKind } from '../groups.ts';
import { brierRising } from './brierRising.ts';
import { confidenceShift } from './confidenceShift.ts';
import { expectancyBelowBaseline } from './expectancyBelowBaseline.ts';
import { losingHour, losingSymbol } from './losingSubjects.ts';
import { overconfidence } from './overconfidence.ts';
import { rChangePoint } from './rChangePoint.ts';
import type { InsightRule } from './ruleTypes.ts';
import { stopsTooTight } from './stopsTooTight.ts';
import { tpBeyondTp1Rare } from './tpBeyondTp1Rare.ts';
import { winRateBelowBaseline } from './winRateBelowBaseline.ts';

/** Rule name → rule. */
export const INSIGHT_RULES: Readonly<Record<string, InsightRule>> = {
  win_rate_below_baseline: (input) => winRateBelowBaseline(input),
  expectancy_below_baseline: (input) => expectancyBelowBaseline(input),
  r_change_point: (input) => rChangePoint(input),
  brier_rising: (input) => brierRising(input),
  overconfidence: (input) => overconfidence(input),
  confidence_shift: (input) => confidenceShift(input),
  losing_symbol: (input) => losingSymbol(input),
  losing_hour: (input) => losingHour(input),
  stops_too_tight: (input) => stopsTooTight(input),
  tp_beyond_tp1_rare: (input) => tpBeyondTp1Rare(input),
};

/** The group kinds the rules run on. */
export const INSIGHT_GROUP_KINDS: ReadonlySet<GroupKind> = new Set<GroupKind>(['all', 'strategy', 'model']);
