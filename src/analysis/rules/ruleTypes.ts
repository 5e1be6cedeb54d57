/**
 * What an insight rule is: a pure function from one group's trades in a window (and before it)
 * to findings, each with a severity, the numbers behind it and a recommendation in plain words.
 * docs/INSIGHTS.md lists every rule with its thresholds.
 */
import type { TradeSample } from '../tradeSample.ts';

/** Severities, mildest first (the performance_insights CHECK allows exactly these). */
export const SEVERITIES = ['info', 'warning', 'critical'] as const;

/** One of {@link SEVERITIES}. */
export type Severity = (typeof SEVERITIES)[number];

/** A JSON value, as evidence is stored (jsonb). Numbers are finite: NaN never enters evidence. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** One thing a rule found. */
export interface Finding {
  /** The rule's stable name (docs/INSIGHTS.md). */
  rule: string;
  severity: Severity;
  /** What inside the group the finding is about (a symbol, an hour); part of the dedup key. */
  subject?: string;
  /** The numbers behind the finding. */
  evidence: { [key: string]: Json };
  /** What to do about it, in plain words. */
  recommendation: string;
}

/** What a rule sees. */
export interface RuleInput {
  /** The group in words, for recommendations: "strategy breakout", "model lstm 3.1", "all signals". */
  label: string;
  /** The group's filled trades in the window, close order. */
  window: TradeSample;
  /**
   * The group's filled trades in the baseline span just before the window (docs/METRICS.md);
   * null when the window has no "before" (the all-time window).
   */
  baseline: TradeSample | null;
}

/** An insight rule. */
export type InsightRule = (input: RuleInput) => Finding[];
