/**
 * `outcome-tracker metrics [--input FILE]`: reads one JSON object (stdin by default, or
 * FILE; `-` is stdin too) and prints the metrics as one JSON line on stdout.
 *
 * - `{"returns": [...], "annualization": 252, "riskFree": 0, "requiredReturn": 0, "cutoff": 0.05}`
 *   prints the return-series metrics, keys in {@link RETURN_METRIC_NAMES} order.
 * - `{"trades": [...]}` prints the trade-level metrics.
 * - replay's (or export's) output, one JSON line per signal, prints the trade-level metrics of
 *   its closed signals; unfinished and rejected lines are skipped and counted on stderr.
 *
 * Every metric key is always present, `null` when it has no finite value; `nullReasons`
 * maps each null metric to its reason code (docs/METRICS.md). Bad arguments, unreadable
 * input, invalid JSON or an input of the wrong shape print `metrics: <problem>` lines on
 * stderr and exit with 2; nothing is printed on stdout then.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { OutcomeCode } from '../../machines/types.ts';
import { flattenMetrics, type MetricValue, type NullReason } from '../metrics/metricValue.ts';
import {
  DEFAULT_ANNUALIZATION,
  DEFAULT_CUTOFF,
  RETURN_METRIC_NAMES,
  returnMetrics,
  type ReturnMetricOptions,
} from '../metrics/returnMetrics.ts';
import { tradeMetrics, type TradeMetrics } from '../metrics/tradeMetrics.ts';
import { isFilled, OUTCOME_CODES, UNFILLED_OUTCOMES, type TradeRecord } from '../metrics/tradeRecord.ts';
import { coerceError } from '../errors.ts';

/** The streams the command reads and writes; the CLI passes the process's own. */
export interface MetricsCommandIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Exit code for bad arguments or bad input. */
export const EXIT_BAD_INPUT = 2;

const RETURNS_FIELDS = ['returns', 'annualization', 'riskFree', 'requiredReturn', 'cutoff'] as const;
const MAX_REPORTED_PROBLEMS = 10;

type ParsedInput =
  | { kind: 'returns'; returns: number[]; options: Required<ReturnMetricOptions> }
  | { kind: 'trades'; trades: TradeRecord[] };

interface ReplayLineCounts {
  closed: number;
  unfinished: number;
  rejected: number;
}

/**
 * The lines of `text` when it is JSON lines of signal outcomes (replay's format: objects with a
 * `state`), else null (one JSON document, or not JSON at all: the caller reports which).
 * Deciding on the first line alone keeps a one-line `{"returns": …}` input what it is.
 */
function replayLines(text: string): { line: number; text: string }[] | null {
  const lines = text
    .split('\n')
    .map((t, i) => ({ line: i + 1, text: t.trim() }))
    .filter((l) => l.text !== '');
  if (lines.length === 0) return null;
  let first: unknown;
  try {
    first = JSON.parse(lines[0]!.text);
  } catch {
    return null;
  }
  return isObject(first) && 'state' in first ? lines : null;
}

/** Trades from replay output lines: closed ones by their netReturn, rMultiple, holdingMs, outcome… */
function parseReplayLines(
  lines: { line: number; text: string }[],
  source: string,
  problems: string[],
): (ParsedInput & { kind: 'trades'; counts: ReplayLineCounts }) | null {
  const trades: TradeRecord[] = [];
  const counts: ReplayLineCounts = { closed: 0, unfinished: 0, rejected: 0 };
  for (const { line, text } of lines) {
    const at = `${source} line ${line}`;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      problems.push(`${at}: not valid JSON (${coerceError(err).message})`);
      continue;
    }
    if (!isObject(raw) || typeof raw.state !== 'string') {
      problems.push(`${at}: expected a replay line, an object with "state", got ${describe(raw)}`);
      continue;
    }
    if (raw.state === 'rejected') counts.rejected++;
    else if (raw.state !== 'closed') counts.unfinished++;
    else {
      const record = parseTradeRecord(raw, at, problems);
      if (record) {
        counts.closed++;
        trades.push(record);
      }
    }
  }
  return problems.length === 0 ? { kind: 'trades', trades, counts } : null;
}

/**
 * Runs the `metrics` command with `args` (the words after `metrics`) and returns the exit
 * code: 0 on success, {@link EXIT_BAD_INPUT} when the arguments or the input are wrong.
 */
export async function metricsCommand(args: string[], io: MetricsCommandIo): Promise<number> {
  let inputPath: string | undefined;
  try {
    const { values } = parseArgs({
      args,
      options: { input: { type: 'string', short: 'i' } },
      strict: true,
      allowPositionals: false,
    });
    inputPath = values.input;
  } catch (err) {
    return fail(io, [`${coerceError(err).message}; usage: outcome-tracker metrics [--input FILE]`]);
  }

  const fromStdin = inputPath === undefined || inputPath === '-';
  let text: string;
  try {
    text = fromStdin ? await readAll(io.stdin) : await readFile(inputPath as string, 'utf8');
  } catch (err) {
    return fail(io, [`cannot read ${fromStdin ? 'stdin' : inputPath}: ${coerceError(err).message}`]);
  }

  const source = fromStdin ? 'stdin' : (inputPath as string);
  // SPEC.md: a leading byte-order mark is ignored.
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const problems: string[] = [];
  let parsed: ParsedInput;
  const lines = replayLines(text);
  if (lines !== null) {
    const fromLines = parseReplayLines(lines, source, problems);
    if (fromLines === null) return fail(io, problems);
    parsed = fromLines;
    const { closed, unfinished, rejected } = fromLines.counts;
    io.stderr.write(
      `metrics: ${closed} closed signals of ${lines.length} lines; skipped ${unfinished} unfinished, ${rejected} rejected\n`,
    );
  } else {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      return fail(io, [`${source} is not valid JSON: ${coerceError(err).message}`]);
    }
    const fromJson = parseInput(json, problems);
    if (fromJson === null) return fail(io, problems);
    parsed = fromJson;
  }

  const report =
    parsed.kind === 'returns' ? returnsReport(parsed) : tradesReport(tradeMetrics(parsed.trades));
  io.stdout.write(`${JSON.stringify(report)}\n`);
  return 0;
}

function returnsReport(input: Extract<ParsedInput, { kind: 'returns' }>): Record<string, unknown> {
  const { values, nullReasons } = flattenMetrics(
    returnMetrics(input.returns, input.options),
    RETURN_METRIC_NAMES,
  );
  return { ...values, nullReasons };
}

function tradesReport(m: TradeMetrics): Record<string, unknown> {
  const nullReasons: Record<string, NullReason> = {};
  const v = <T>(key: string, x: MetricValue<T>): T | null => {
    if (x.reason !== undefined) nullReasons[key] = x.reason;
    return x.value;
  };
  return {
    records: m.records,
    trades: m.trades,
    wins: m.wins,
    losses: m.losses,
    draws: m.draws,
    winRate: v('winRate', m.winRate),
    profitFactor: v('profitFactor', m.profitFactor),
    avgWin: v('avgWin', m.avgWin),
    avgLoss: v('avgLoss', m.avgLoss),
    payoffRatio: v('payoffRatio', m.payoffRatio),
    expectancy: v('expectancy', m.expectancy),
    expectancyRatio: v('expectancyRatio', m.expectancyRatio),
    sqn: v('sqn', m.sqn),
    maxConsecutiveWins: m.maxConsecutiveWins,
    maxConsecutiveLosses: m.maxConsecutiveLosses,
    holdingMsMean: v('holdingMsMean', m.holdingMsMean),
    holdingMsMedian: v('holdingMsMedian', m.holdingMsMedian),
    holdingMsP90: v('holdingMsP90', m.holdingMsP90),
    outcomeMix: v('outcomeMix', m.outcomeMix),
    avgR: v('avgR', m.avgR),
    mfeMean: v('mfeMean', m.mfeMean),
    mfeMedian: v('mfeMedian', m.mfeMedian),
    maeMean: v('maeMean', m.maeMean),
    maeMedian: v('maeMedian', m.maeMedian),
    brierScore: v('brierScore', m.brierScore),
    calibration: m.calibration,
    nullReasons,
  };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function describe(x: unknown): string {
  if (x === undefined) return 'nothing';
  if (Array.isArray(x)) return 'an array';
  return JSON.stringify(x) ?? String(x);
}

function isNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** Validates the whole input; null (with `problems` filled) when it is unusable. */
function parseInput(json: unknown, problems: string[]): ParsedInput | null {
  if (!isObject(json)) {
    problems.push(`input must be a JSON object with "returns" or "trades", got ${describe(json)}`);
    return null;
  }
  const hasReturns = 'returns' in json;
  const hasTrades = 'trades' in json;
  if (hasReturns === hasTrades) {
    problems.push(
      hasReturns
        ? 'input has both "returns" and "trades"; give one of them'
        : 'input must have "returns" (a return series) or "trades" (trade records)',
    );
    return null;
  }
  const parsed = hasReturns ? parseReturnsInput(json, problems) : parseTradesInput(json, problems);
  return problems.length === 0 ? parsed : null;
}

function parseReturnsInput(json: Record<string, unknown>, problems: string[]): ParsedInput {
  for (const key of Object.keys(json)) {
    if (!(RETURNS_FIELDS as readonly string[]).includes(key)) {
      problems.push(`unknown field "${key}"; a returns input takes ${RETURNS_FIELDS.join(', ')}`);
    }
  }
  const returns: number[] = [];
  if (!Array.isArray(json.returns)) {
    problems.push(
      `"returns" must be an array of numbers (null for a missing period), got ${describe(json.returns)}`,
    );
  } else {
    json.returns.forEach((r: unknown, i) => {
      if (r === null) returns.push(Number.NaN);
      // A period cannot lose more than everything: below -1, compounding turns a loss into
      // nonsense gains (an annualReturn of 164238).
      else if (isNumber(r) && r < -1)
        problems.push(`returns[${i}] is ${r}, below -1 (a loss of more than 100% in one period)`);
      else if (isNumber(r)) returns.push(r);
      else problems.push(`returns[${i}] must be a finite number or null, got ${describe(r)}`);
    });
  }
  const number = (key: string, fallback: number, valid: (x: number) => boolean, rule: string): number => {
    const x = json[key];
    if (x === undefined) return fallback;
    if (isNumber(x) && valid(x)) return x;
    problems.push(`"${key}" must be ${rule}, got ${describe(x)}`);
    return fallback;
  };
  const options: Required<ReturnMetricOptions> = {
    annualization: number('annualization', DEFAULT_ANNUALIZATION, (x) => x > 0, 'a positive number'),
    riskFree: number('riskFree', 0, () => true, 'a finite number'),
    requiredReturn: number('requiredReturn', 0, () => true, 'a finite number'),
    cutoff: number('cutoff', DEFAULT_CUTOFF, (x) => x >= 0 && x <= 1, 'a number within [0, 1]'),
  };
  return { kind: 'returns', returns, options };
}

function parseTradesInput(json: Record<string, unknown>, problems: string[]): ParsedInput {
  for (const key of Object.keys(json)) {
    if (key !== 'trades') problems.push(`unknown field "${key}"; a trades input takes only "trades"`);
  }
  const trades: TradeRecord[] = [];
  if (!Array.isArray(json.trades)) {
    problems.push(`"trades" must be an array of trade records, got ${describe(json.trades)}`);
    return { kind: 'trades', trades };
  }
  json.trades.forEach((raw: unknown, i) => {
    const record = parseTradeRecord(raw, `trades[${i}]`, problems);
    if (record) trades.push(record);
  });
  const filled = trades.filter(isFilled);
  const withPnl = filled.filter((t) => t.pnl !== undefined).length;
  if (withPnl > 0 && withPnl < filled.length) {
    problems.push(
      `"pnl" is given on ${withPnl} of ${filled.length} filled trades; give it on all or none, so results share one unit`,
    );
  }
  return { kind: 'trades', trades };
}

/**
 * One trade record. Fields other than {@link TradeRecord}'s are ignored, so replay output
 * lines can be passed as they are; a line whose `state` is not `closed` (unfinished or
 * rejected) is skipped. A record of an unfilled outcome may omit `netReturn`: it never
 * entered, so its result is 0 and only the outcome mix counts it.
 */
function parseTradeRecord(raw: unknown, at: string, problems: string[]): TradeRecord | null {
  if (!isObject(raw)) {
    problems.push(`${at} must be an object, got ${describe(raw)}`);
    return null;
  }
  if ('state' in raw && raw.state !== 'closed') return null;
  const record: Partial<TradeRecord> = {};

  let outcome: OutcomeCode | undefined;
  if (raw.outcome !== undefined && raw.outcome !== null) {
    if ((OUTCOME_CODES as readonly unknown[]).includes(raw.outcome)) {
      outcome = raw.outcome as OutcomeCode;
      record.outcome = outcome;
    } else {
      problems.push(`${at}.outcome must be one of ${OUTCOME_CODES.join(', ')}, got ${describe(raw.outcome)}`);
    }
  }

  if (isNumber(raw.netReturn)) record.netReturn = raw.netReturn;
  else if (
    (raw.netReturn === undefined || raw.netReturn === null) &&
    outcome &&
    UNFILLED_OUTCOMES.has(outcome)
  ) {
    record.netReturn = 0;
  } else {
    problems.push(`${at}.netReturn must be a finite number, got ${describe(raw.netReturn)}`);
  }

  const optional = (
    key: 'pnl' | 'holdingMs' | 'mfe' | 'mae' | 'confidence',
    valid: (x: number) => boolean,
    rule: string,
  ) => {
    const x = raw[key];
    if (x === undefined || x === null) return;
    if (isNumber(x) && valid(x)) record[key] = x;
    else problems.push(`${at}.${key} must be ${rule}, got ${describe(x)}`);
  };
  optional('pnl', () => true, 'a finite number');
  optional('holdingMs', (x) => x >= 0, 'a number ≥ 0');
  optional('mfe', () => true, 'a finite number');
  optional('mae', () => true, 'a finite number');
  optional('confidence', (x) => x >= 0 && x <= 1, 'a number within [0, 1]');

  if (raw.rMultiple === null) record.rMultiple = null;
  else if (raw.rMultiple !== undefined) {
    if (isNumber(raw.rMultiple)) record.rMultiple = raw.rMultiple;
    else problems.push(`${at}.rMultiple must be a finite number or null, got ${describe(raw.rMultiple)}`);
  }
  return record.netReturn === undefined ? null : (record as TradeRecord);
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function fail(io: MetricsCommandIo, problems: readonly string[]): number {
  // One line each: a problem may quote the input (JSON.parse's message does), newlines and NULs included.
  const shown = problems.slice(0, MAX_REPORTED_PROBLEMS).map((p) => `metrics: ${escapeControls(p)}\n`);
  if (problems.length > MAX_REPORTED_PROBLEMS) {
    shown.push(`metrics: … and ${problems.length - MAX_REPORTED_PROBLEMS} more problems\n`);
  }
  io.stderr.write(shown.join(''));
  return EXIT_BAD_INPUT;
}

/** `text` with control characters (newlines, NUL) written as JSON escapes. */
function escapeControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}
