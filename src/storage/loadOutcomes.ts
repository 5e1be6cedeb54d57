/**
 * Reads closed outcomes from signal_outcomes into {@link OutcomeColumns}: only the columns the
 * analyzer needs, the legs reduced in SQL to three small facts (highest TP filled, whether the
 * position went on after TP1, the closing stop's kind), fetched through a cursor in batches so
 * that a million rows never sit in memory as row objects.
 */
import type pg from 'pg';
import { OutcomeColumnsBuilder, type OutcomeColumns, type OutcomeRow } from '../analysis/outcomeColumns.ts';
import { fromMs, toMs } from './epochMs.ts';
import { inTransaction } from './inTransaction.ts';

/** Which outcomes to read. */
export interface LoadOutcomesOptions {
  /** Outcomes closed before this time (epoch ms, exclusive). */
  end: number;
  /** Outcomes closed at or after this time (epoch ms); all history when left out. */
  since?: number;
  /** One tenant only. */
  tenant?: string;
  /** Rows per FETCH. @defaultValue 50000 */
  batchSize?: number;
}

// Column order = OutcomeRow. No ORDER BY: sorting a million wide rows costs PostgreSQL seconds
// (a cursor also rules out a parallel sort), while OutcomeColumnsBuilder orders them by close
// time in a few hundred milliseconds. Legs are in fill order (SPEC.md). Since v1.1 a manual exit
// may book part of the position between TPs, so the highest TP filled is the largest TP level
// among the legs, and the position went on after TP1 when TP1's leg is not the last.
//
// Both facts are read from the first UNROLLED_LEGS legs by index when a trade has no more legs
// than that (every trade but a rare one): a subquery over jsonb_array_elements per row cost
// PostgreSQL about 3.7 s of its 5 s for a million rows, the indexed form a fifth of that. The
// unrolled forms mean the same as the subqueries, NULLs included: greatest() skips NULLs as
// max() does, and an OR of NULLs and falses is NULL as bool_or() of them is (both then
// coalesced). Longer trades still take the subqueries.
const UNROLLED_LEGS = 4;
const legIndices = Array.from({ length: UNROLLED_LEGS }, (_, k) => k);
const MAX_TP_LEVEL = `CASE WHEN jsonb_array_length(legs) <= ${UNROLLED_LEGS}
    THEN coalesce(greatest(${legIndices
      .map((k) => `CASE WHEN legs->${k}->>'reason' = 'TP' THEN (legs->${k}->>'level')::int END`)
      .join(', ')}), 0)
    ELSE (SELECT coalesce(max((l->>'level')::int), 0) FROM jsonb_array_elements(legs) AS l
          WHERE l->>'reason' = 'TP') END`;
const CONTINUED_AFTER_TP1 = `CASE WHEN jsonb_array_length(legs) <= ${UNROLLED_LEGS}
    THEN coalesce(${legIndices
      .map(
        (k) =>
          `(legs->${k}->>'reason' = 'TP' AND legs->${k}->>'level' = '1' AND ${k + 1} < jsonb_array_length(legs))`,
      )
      .join(' OR ')}, false)
    ELSE coalesce((SELECT bool_or(e.l->>'reason' = 'TP' AND e.l->>'level' = '1' AND e.n < jsonb_array_length(legs))
          FROM jsonb_array_elements(legs) WITH ORDINALITY AS e(l, n)), false) END`;
const SELECT_OUTCOMES = `
  SELECT tenant, strategy, model, model_version, symbol, timeframe,
         ${toMs('closed_at')},
         ${toMs('coalesce(signal_created_at, fill_ts, closed_at)')},
         outcome, net_return, r_multiple, holding_ms::float8, mfe, mae, confidence,
         ${MAX_TP_LEVEL},
         ${CONTINUED_AFTER_TP1},
         CASE WHEN legs->-1->>'reason' = 'SL' THEN legs->-1->>'stopKind' END,
         pnl, fees
  FROM signal_outcomes
  WHERE closed_at < ${fromMs('$1')}
    AND ($2::bigint IS NULL OR closed_at >= ${fromMs('$2')})
    AND ($3::text IS NULL OR tenant = $3::text)`;

/**
 * Loads the outcomes into columns, in close order (outcomes closed in the same millisecond keep
 * the order PostgreSQL returned them in).
 */
export async function loadOutcomes(pool: pg.Pool, options: LoadOutcomesOptions): Promise<OutcomeColumns> {
  const batchSize = options.batchSize ?? 50_000;
  // One snapshot for the whole read, so that outcomes landing meanwhile cannot appear halfway.
  return inTransaction(
    pool,
    async (client) => {
      await client.query(`DECLARE analyzer_outcomes NO SCROLL CURSOR FOR ${SELECT_OUTCOMES}`, [
        options.end,
        options.since ?? null,
        options.tenant ?? null,
      ]);
      const builder = new OutcomeColumnsBuilder(batchSize);
      for (;;) {
        const { rows } = await client.query<OutcomeRow>({
          text: `FETCH FORWARD ${batchSize} FROM analyzer_outcomes`,
          rowMode: 'array',
        });
        for (const row of rows) builder.push(row);
        if (rows.length < batchSize) break;
      }
      return builder.finish();
    },
    'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
  );
}
