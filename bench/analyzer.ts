/**
 * `npm run bench -- analyzer [--sizes=100k,1m]`: a full analysis (every window × every group
 * kind, one tenant) over 100k and 1M stored outcomes. Needs DATABASE_URL; works in a scratch
 * database of its own on that server (created, migrated, dropped).
 *
 * Figures: `analyzer.outcomes_per_sec` per size (outcomes read and analysed per second of the
 * whole analyze() call: load, compute, store), its parts `analyzer.load_seconds`,
 * `analyzer.compute_seconds` and `analyzer.store_seconds` per size, the analyzing process's CPU
 * time `analyzer.process_cpu_seconds` per size, `analyzer.peak_rss` per size (the process's peak
 * resident memory so far), `analyzer.seconds_1m`, and `analyzer.growth_100k_to_1m` =
 * (time at 1M / time at 100k) / 10: 1 is linear, below 1 better.
 */
import pg from 'pg';
import pino from 'pino';
import { createAnalyzer, type AnalyzeSummary } from '../src/analyzer/createAnalyzer.ts';
import { migrate } from '../src/storage/migrate.ts';
import type { Report } from './Report.ts';

/** The analysis time of the benchmark; outcomes span the year before it. */
const AT = Date.parse('2025-06-01T12:00:00Z');

/**
 * Inserts `n` synthetic outcomes in one INSERT … SELECT over generate_series (seeded, so every
 * run gets the same data): 10 strategies, 12 model versions, 200 symbols, 5 timeframes, closes
 * spread over the 365 days before {@link AT}, a realistic mix of outcomes and legs.
 */
export async function insertSyntheticOutcomes(client: pg.ClientBase, n: number, at = AT): Promise<void> {
  await client.query('SELECT setseed(0.42)');
  await client.query(
    `INSERT INTO signal_outcomes
       (signal_id, closed_at, tenant, symbol, side, strategy, model, model_version, timeframe, confidence,
        signal_created_at, outcome, partial, fill_ts, fill_price, holding_ms, gross_return, net_return,
        r_multiple, mfe, mae, legs)
     SELECT 'b' || i, closed_at, 'bench', 'SYM' || (i * 7919 % 200), CASE WHEN i % 2 = 0 THEN 'long' ELSE 'short' END,
            's' || (i % 10), 'm' || (i % 4), 'v' || (i % 3), (ARRAY['1m','5m','15m','1h','4h'])[i % 5 + 1],
            confidence, closed_at - make_interval(secs => holding / 1000.0 + 60), outcome, outcome = 'SL_HIT' AND tp2,
            CASE WHEN filled THEN closed_at - make_interval(secs => holding / 1000.0) END, 100,
            CASE WHEN filled THEN holding END,
            CASE WHEN filled THEN r * 0.01 END, CASE WHEN filled THEN r * 0.01 - 0.0002 END,
            CASE WHEN filled AND i % 20 <> 0 THEN r END,
            CASE WHEN filled THEN greatest(r, 0) * 0.012 + 0.001 END, CASE WHEN filled THEN least(r, 0) * 0.011 - 0.001 END,
            CASE outcome
              WHEN 'TP_HIT' THEN CASE WHEN tp2
                THEN '[{"reason":"TP","level":1,"price":101,"fraction":0.5,"ts":0},{"reason":"TP","level":2,"price":102,"fraction":0.5,"ts":0}]'
                ELSE '[{"reason":"TP","level":1,"price":101,"fraction":1,"ts":0}]' END
              WHEN 'SL_HIT' THEN CASE WHEN tp2
                THEN '[{"reason":"TP","level":1,"price":101,"fraction":0.5,"ts":0},{"reason":"SL","stopKind":"breakeven","price":100,"fraction":0.5,"ts":0}]'
                ELSE '[{"reason":"SL","stopKind":"initial","price":99,"fraction":1,"ts":0}]' END
              WHEN 'TIME_EXIT' THEN '[{"reason":"TIME","price":100.2,"fraction":1,"ts":0}]'
              WHEN 'MANUAL_EXIT' THEN '[{"reason":"MANUAL","price":100.1,"fraction":1,"ts":0}]'
              ELSE '[]' END::jsonb
     FROM (
       SELECT i, closed_at, outcome, outcome NOT IN ('EXPIRED', 'CANCELLED', 'INVALID_AT_FILL') AS filled,
              tp2, holding, confidence,
              CASE outcome WHEN 'TP_HIT' THEN CASE WHEN tp2 THEN 2.0 ELSE 1.5 END
                           WHEN 'SL_HIT' THEN CASE WHEN tp2 THEN 0.5 ELSE -1.0 END
                           WHEN 'TIME_EXIT' THEN u - 0.5 WHEN 'MANUAL_EXIT' THEN u - 0.3 ELSE 0 END AS r
       FROM (
         SELECT i, to_timestamp($2 / 1000.0) - make_interval(secs => random() * 365 * 86400) AS closed_at,
                CASE WHEN o < 0.45 THEN 'TP_HIT' WHEN o < 0.85 THEN 'SL_HIT' WHEN o < 0.93 THEN 'TIME_EXIT'
                     WHEN o < 0.95 THEN 'MANUAL_EXIT' WHEN o < 0.98 THEN 'EXPIRED' WHEN o < 0.99 THEN 'CANCELLED'
                     ELSE 'INVALID_AT_FILL' END AS outcome,
                random() < 0.3 AS tp2, floor(random() * 7200000)::bigint AS holding,
                0.3 + random() * 0.6 AS confidence, random() AS u
         FROM (SELECT i, random() AS o FROM generate_series(1::bigint, $1::bigint) AS i) AS g
       ) AS a
     ) AS b`,
    [n, at],
  );
}

function databaseUrlFor(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function timedAnalysis(
  pool: pg.Pool,
): Promise<{ seconds: number; cpuSeconds: number; summary: AnalyzeSummary }> {
  const log = pino({ level: 'silent' });
  const analyzer = createAnalyzer({ pool, log, now: () => AT });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const summary = await analyzer.analyze({ at: AT });
  const cpu = process.cpuUsage(cpu0);
  return { seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, summary };
}

export async function run(report: Report, flags: string[]): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('the analyzer benchmark needs DATABASE_URL (eval "$(scripts/services.sh env)")');
  const sizes: [string, number][] = [
    ['100k', 100_000],
    ['1m', 1_000_000],
  ];
  const sizeFlag = flags
    .find((f) => f.startsWith('--sizes='))
    ?.slice('--sizes='.length)
    .split(',');
  const chosen = sizeFlag ? sizes.filter(([label]) => sizeFlag.includes(label)) : sizes;

  const name = `ot_bench_analyzer_${process.pid}`;
  const admin = new pg.Client({ connectionString: url, application_name: 'outcome-tracker bench admin' });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const benchUrl = databaseUrlFor(url, name);
  const pool = new pg.Pool({ connectionString: benchUrl, application_name: 'outcome-tracker bench', max: 4 });
  // Idle connections are terminated when the scratch database is dropped; that is expected.
  pool.on('error', () => {});
  try {
    await migrate({ databaseUrl: benchUrl, log: pino({ level: 'silent' }) });
    const seconds = new Map<string, number>();
    for (const [label, n] of chosen) {
      const client = await pool.connect();
      try {
        await client.query('TRUNCATE signal_outcomes, performance_metrics, performance_insights');
        const t0 = performance.now();
        await insertSyntheticOutcomes(client, n);
        await client.query('VACUUM ANALYZE signal_outcomes');
        process.stderr.write(
          `analyzer: ${label} outcomes inserted in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
        );
      } finally {
        client.release();
      }
      // One warm-up pass at the smallest size would hide first-run costs a real worker also pays
      // once; the figure is a cold, single run, as the scheduler's job is.
      const { seconds: s, cpuSeconds, summary } = await timedAnalysis(pool);
      process.stderr.write(
        `analyzer: ${label}: ${s.toFixed(2)} s (load ${summary.timings.loadMs} ms, compute ${summary.timings.computeMs} ms, ` +
          `store ${summary.timings.storeMs} ms; ${summary.metricsRows} metrics rows, ${summary.insights.raised} insights)\n`,
      );
      seconds.set(label, s);
      report({ name: `analyzer.outcomes_per_sec.${label}`, value: n / s, unit: 'outcomes/s' });
      // The parts of the same run: reading the rows (PostgreSQL and the cursor), the pure
      // computation, and storing the rows it made.
      report({ name: `analyzer.load_seconds.${label}`, value: summary.timings.loadMs / 1000, unit: 's' });
      report({
        name: `analyzer.compute_seconds.${label}`,
        value: summary.timings.computeMs / 1000,
        unit: 's',
      });
      report({ name: `analyzer.store_seconds.${label}`, value: summary.timings.storeMs / 1000, unit: 's' });
      // This process's CPU time over the analysis (the loaded machine stretches wall time more).
      report({ name: `analyzer.process_cpu_seconds.${label}`, value: cpuSeconds, unit: 's' });
      // Peak resident memory of the process so far: after the larger size, the analysis of it.
      report({
        name: `analyzer.peak_rss.${label}`,
        value: process.resourceUsage().maxRSS / 1024,
        unit: 'MB',
      });
    }
    const big = seconds.get('1m');
    const small = seconds.get('100k');
    if (big !== undefined) report({ name: 'analyzer.seconds_1m', value: big, unit: 's' });
    if (big !== undefined && small !== undefined) {
      report({ name: 'analyzer.growth_100k_to_1m', value: big / small / 10, unit: 'ratio' });
    }
  } finally {
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}
