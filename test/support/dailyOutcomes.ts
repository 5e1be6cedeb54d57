/**
 * One definition of daily_outcomes for both migration paths (migrate.test.ts on plain
 * PostgreSQL, migrate.timescale.test.ts on TimescaleDB): its columns, a fixture of outcomes
 * and the daily rows they must give. The two paths are held to the same expectations.
 */

/** daily_outcomes has these columns on both paths, plain PostgreSQL and TimescaleDB. */
export const DAILY_OUTCOMES_COLUMNS = [
  ['day', 'timestamp with time zone'],
  ['tenant', 'text'],
  ['strategy', 'text'],
  ['model', 'text'],
  ['model_version', 'text'],
  ['symbol', 'text'],
  ['outcomes', 'bigint'],
  ['filled', 'bigint'],
  ['wins', 'bigint'],
  ['losses', 'bigint'],
  ['tp_hits', 'bigint'],
  ['sl_hits', 'bigint'],
  ['sum_gross_return', 'double precision'],
  ['sum_net_return', 'double precision'],
  ['r_count', 'bigint'],
  ['sum_r_multiple', 'double precision'],
  ['sum_holding_ms', 'numeric'],
];

export interface OutcomeFixture {
  signalId: string;
  closedAt: string;
  outcome: string;
  tenant?: string;
  strategy?: string;
  netReturn?: number | null;
  grossReturn?: number | null;
  rMultiple?: number | null;
  holdingMs?: number | null;
}

/** Inserts one outcome; parameters from {@link outcomeParams}. */
export const INSERT_OUTCOME = `INSERT INTO signal_outcomes (signal_id, closed_at, tenant, symbol, side, strategy, model, model_version,
       outcome, gross_return, net_return, r_multiple, holding_ms)
     VALUES ($1, $2, $3, 'BTCUSD', 'long', $4, 'm', 'v1', $5, $6, $7, $8, $9)
     ON CONFLICT (signal_id, closed_at) DO NOTHING`;

export function outcomeParams(o: OutcomeFixture): unknown[] {
  return [
    o.signalId,
    o.closedAt,
    o.tenant ?? 'default',
    o.strategy ?? 'A',
    o.outcome,
    o.grossReturn ?? null,
    o.netReturn ?? null,
    o.rMultiple ?? null,
    o.holdingMs ?? null,
  ];
}

/** Four outcomes over two days and two strategies (one unfilled, one at 23:59:59.999). */
export const DAILY_FIXTURE: OutcomeFixture[] = [
  {
    signalId: 'd1',
    closedAt: '2025-01-01T10:00:00Z',
    outcome: 'TP_HIT',
    netReturn: 0.02,
    grossReturn: 0.021,
    rMultiple: 2,
    holdingMs: 1000,
  },
  {
    signalId: 'd2',
    closedAt: '2025-01-01T23:59:59.999Z',
    outcome: 'SL_HIT',
    netReturn: -0.01,
    grossReturn: -0.009,
    rMultiple: -1,
    holdingMs: 3000,
  },
  { signalId: 'd3', closedAt: '2025-01-02T00:00:00Z', outcome: 'EXPIRED' },
  {
    signalId: 'd4',
    closedAt: '2025-01-01T12:00:00Z',
    outcome: 'TIME_EXIT',
    strategy: 'B',
    netReturn: 0,
    grossReturn: 0.001,
    holdingMs: 500,
  },
];

export const DAILY_QUERY = `
  SELECT to_char(day AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, strategy, outcomes::int, filled::int, wins::int,
         losses::int, tp_hits::int, sl_hits::int, round(sum_net_return::numeric, 9)::float8 AS sum_net_return,
         round(sum_gross_return::numeric, 9)::float8 AS sum_gross_return, r_count::int,
         sum_r_multiple, sum_holding_ms::float8
  FROM daily_outcomes WHERE tenant = $1 ORDER BY day, strategy`;

export const DAILY_EXPECTED = [
  {
    day: '2025-01-01',
    strategy: 'A',
    outcomes: 2,
    filled: 2,
    wins: 1,
    losses: 1,
    tp_hits: 1,
    sl_hits: 1,
    sum_net_return: 0.01,
    sum_gross_return: 0.012,
    r_count: 2,
    sum_r_multiple: 1,
    sum_holding_ms: 4000,
  },
  {
    day: '2025-01-01',
    strategy: 'B',
    outcomes: 1,
    filled: 1,
    wins: 0,
    losses: 0,
    tp_hits: 0,
    sl_hits: 0,
    sum_net_return: 0,
    sum_gross_return: 0.001,
    r_count: 0,
    sum_r_multiple: null,
    sum_holding_ms: 500,
  },
  {
    day: '2025-01-02',
    strategy: 'A',
    outcomes: 1,
    filled: 0,
    wins: 0,
    losses: 0,
    tp_hits: 0,
    sl_hits: 0,
    sum_net_return: null,
    sum_gross_return: null,
    r_count: 0,
    sum_r_multiple: null,
    sum_holding_ms: null,
  },
];
