import { inTransaction } from '../storage/inTransaction.ts';
/**
 * Reads closed outcomes from signal_outcomes into {@link OutcomeColumns}: only the columns the
 * analyzer needs, the legs reduced in SQL to three small facts (highest TP filled, whether the
 * position went on after TP1, the closing stop's kind), fetched through a cursor in batches so
 * that a million rows never sit in memory as row objects.
 */
import type pg from 'pg';
import { OutcomeColumnsBuilder, type OutcomeColumns, type OutcomeRow } from './outcomeColumns.ts';

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
// time in a few hundred milliseconds. Legs are in fill order (SPEC.md): TPs fill in level order and a stop
// or exit closes the whole remainder, so the highest TP filled is the last leg or the one before
// it, TP1 (when filled) is the first leg, and a first leg that is a TP and not the only leg means
// part of the position stayed open after TP1.
const SELECT_OUTCOMES = `
  SELECT tenant, strategy, model, model_version, symbol, timeframe,
         (extract(epoch FROM closed_at) * 1000)::float8,
         (extract(epoch FROM coalesce(signal_created_at, fill_ts, closed_at)) * 1000)::float8,
         outcome, net_return, r_multiple, holding_ms::float8, mfe, mae, confidence,
         CASE WHEN legs->-1->>'reason' = 'TP' THEN (legs->-1->>'level')::int
              WHEN legs->-2->>'reason' = 'TP' THEN (legs->-2->>'level')::int
              ELSE 0 END,
         coalesce(legs->0->>'reason' = 'TP' AND jsonb_array_length(legs) > 1, false),
         CASE WHEN legs->-1->>'reason' = 'SL' THEN legs->-1->>'stopKind' END
  FROM signal_outcomes
  WHERE closed_at < $1::timestamptz
    AND ($2::timestamptz IS NULL OR closed_at >= $2::timestamptz)
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
        new Date(options.end).toISOString(),
        options.since === undefined ? null : new Date(options.since).toISOString(),
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
