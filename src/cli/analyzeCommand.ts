/**
 * `outcome-tracker analyze [--window W] [--group KIND] [--at ISO] [--tenant T]`: runs the
 * analyzer once, now (or for the day of `--at`), over the outcomes in DATABASE_URL, stores the
 * metrics and insights as the scheduled jobs do, and prints a JSON summary line on stdout.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { createAnalyzer } from '../analyzer/createAnalyzer.ts';
import { GROUP_KINDS, isGroupKind } from '../analysis/groups.ts';
import { isWindowName, WINDOW_NAMES } from '../analysis/windows.ts';
import { loadConfig, requireSettings } from '../config.ts';
import type { CliIo } from './CliIo.ts';
import { serviceError } from './serviceError.ts';
import { UsageError } from './usageError.ts';

/** Runs the `analyze` command; returns the exit code (bad arguments throw a UsageError: exit 2). */
export async function analyzeCommand(
  args: string[],
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      window: { type: 'string', short: 'w' },
      group: { type: 'string', short: 'g' },
      at: { type: 'string' },
      tenant: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.window !== undefined && !isWindowName(values.window)) {
    throw new UsageError(`--window must be one of ${WINDOW_NAMES.join(', ')}, got "${values.window}"`);
  }
  if (values.group !== undefined && !isGroupKind(values.group)) {
    throw new UsageError(`--group must be one of ${GROUP_KINDS.join(', ')}, got "${values.group}"`);
  }
  let at: number | undefined;
  if (values.at !== undefined) {
    at = Date.parse(values.at);
    if (Number.isNaN(at)) throw new UsageError(`--at must be an ISO 8601 time, got "${values.at}"`);
  }
  if (values.tenant === '') throw new UsageError('--tenant must not be empty');

  const config = requireSettings(loadConfig(env), 'DATABASE_URL');
  // Logs go to stderr so that stdout carries only the summary.
  const log = pino(
    { level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL },
    pino.destination({ fd: 2, sync: true }),
  );
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    application_name: 'outcome-tracker analyze',
    max: 2,
    // A command line fails rather than waits, naming the service (as connectPostgres does).
    connectionTimeoutMillis: 5000,
  });
  pool.on('error', (err) => log.error({ err }, 'PostgreSQL connection error'));
  try {
    await pool.query('SELECT 1').catch((err: unknown) => {
      throw serviceError('PostgreSQL', config.DATABASE_URL, err, 'cannot reach');
    });
    const analyzer = createAnalyzer({
      pool,
      log,
      now: Date.now,
      sizing: { sizing: config.ANALYZE_SIZING, riskFraction: config.ANALYZE_RISK_FRACTION },
    });
    const summary = await analyzer.analyze({
      ...(values.window ? { window: values.window } : {}),
      ...(values.group ? { groupKind: values.group } : {}),
      ...(at === undefined ? {} : { at }),
      ...(values.tenant ? { tenant: values.tenant } : {}),
    });
    io.stdout.write(JSON.stringify(summary) + '\n');
    return 0;
  } finally {
    await pool.end();
  }
}
