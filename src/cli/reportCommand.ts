/**
 * `outcome-tracker report [--out FILE] [--tenant T] [--strategy S] [--model M]
 * [--model-version V] [--symbol SYM] [--window 1d|7d|30d|all [--anchor now|latest] | --from ISO
 * --to ISO]`: the dashboard's analytics charts and tables over one tenant's closed outcomes in
 * DATABASE_URL, as one self-contained HTML file (data and chart code inlined; it opens from disk
 * with no network). `report.html` by default; the tenant `default` unless `--tenant`.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig, requireSettings } from '../config.ts';
import { REPORT_WINDOWS, writeReport, type ReportFilters } from '../web/report/writeReport.ts';
import type { CliIo } from './CliIo.ts';
import { serviceError } from './serviceError.ts';
import { UsageError } from './usageError.ts';

/** Runs `report`; returns the exit code (bad arguments throw a UsageError: exit 2). */
export async function reportCommand(
  args: string[],
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      out: { type: 'string', default: 'report.html' },
      tenant: { type: 'string' },
      strategy: { type: 'string' },
      model: { type: 'string' },
      'model-version': { type: 'string' },
      symbol: { type: 'string' },
      anchor: { type: 'string' },
      window: { type: 'string', short: 'w' },
      from: { type: 'string' },
      to: { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`report takes no arguments, got ${positionals.join(' ')}`);
  const filters = parseFilters(values);
  if (values.out === '') throw new UsageError('--out must not be empty');

  const config = requireSettings(loadConfig(env), 'DATABASE_URL');
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    application_name: 'outcome-tracker report',
    max: 2,
    // A command line fails rather than waits, naming the service (as connectPostgres does).
    connectionTimeoutMillis: 5000,
  });
  // Errors of idle connections surface through the next query, not as an unhandled 'error'.
  pool.on('error', () => {});
  try {
    await pool.query('SELECT 1').catch((err: unknown) => {
      throw serviceError('PostgreSQL', config.DATABASE_URL, err, 'cannot reach');
    });
    const written = await writeReport({
      pool,
      filters,
      out: values.out,
      now: Date.now(),
      sizing: { sizing: config.ANALYZE_SIZING, riskFraction: config.ANALYZE_RISK_FRACTION },
    });
    io.stdout.write(`${written.path}\n`);
    io.stderr.write(`report: ${written.outcomes} closed outcomes\n`);
    return 0;
  } catch (err) {
    if ((err as { code?: string }).code === '42P01')
      throw serviceError(
        'PostgreSQL',
        config.DATABASE_URL,
        'no signal_outcomes table: run outcome-tracker migrate',
      );
    throw err;
  } finally {
    await pool.end().catch(() => {});
  }
}

/** The filters of the command line, every problem a UsageError before anything is opened. */
function parseFilters(values: {
  tenant?: string;
  strategy?: string;
  model?: string;
  'model-version'?: string;
  symbol?: string;
  anchor?: string;
  window?: string;
  from?: string;
  to?: string;
}): ReportFilters {
  for (const name of ['tenant', 'strategy', 'model', 'model-version', 'symbol'] as const)
    if (values[name] === '') throw new UsageError(`--${name} must not be empty`);
  const filters: ReportFilters = {};
  if (values.tenant !== undefined) filters.tenant = values.tenant;
  if (values.strategy !== undefined) filters.strategy = values.strategy;
  if (values.model !== undefined) filters.model = values.model;
  if (values['model-version'] !== undefined) filters.modelVersion = values['model-version'];
  if (values.symbol !== undefined) filters.symbol = values.symbol;
  if (values.anchor !== undefined) {
    if (values.anchor !== 'now' && values.anchor !== 'latest')
      throw new UsageError(`--anchor must be now or latest, got "${values.anchor}"`);
    if (values.window === undefined) throw new UsageError('--anchor needs --window');
    filters.anchor = values.anchor;
  }
  if (values.window !== undefined) {
    if (values.from !== undefined || values.to !== undefined)
      throw new UsageError('give --window or --from/--to, not both');
    if (!(REPORT_WINDOWS as readonly string[]).includes(values.window))
      throw new UsageError(`--window must be one of ${REPORT_WINDOWS.join(', ')}, got "${values.window}"`);
    filters.window = values.window as ReportFilters['window'];
  }
  for (const name of ['from', 'to'] as const) {
    const text = values[name];
    if (text === undefined) continue;
    const ms = Date.parse(text);
    if (Number.isNaN(ms)) throw new UsageError(`--${name} must be an ISO 8601 time, got "${text}"`);
    filters[name] = ms;
  }
  if (filters.from !== undefined && filters.to !== undefined && filters.from >= filters.to)
    throw new UsageError('--from must be before --to');
  return filters;
}
