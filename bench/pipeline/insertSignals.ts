import type pg from 'pg';
import type { NormalizedSignal } from '../../machines/signalContext.ts';

/**
 * Stores `signals` as accepted rows of the `signals` table, as the intake would have (the
 * flusher writes an outcome only for a signal PostgreSQL knows).
 */
export async function insertSignals(client: pg.Client, signals: NormalizedSignal[]): Promise<void> {
  for (let i = 0; i < signals.length; i += 5000) {
    await client.query(
      `INSERT INTO signals (id, status, tenant, symbol, side, strategy, model, model_version, timeframe, confidence,
                            created_at, payload, normalized)
       SELECT x.id, 'accepted', x.tenant, x.symbol, x.side, x.strategy, x.model, x.model_version, x.timeframe,
              x.confidence, timestamptz 'epoch' + x.created_at * interval '1 millisecond', x.payload, x.payload
       FROM jsonb_to_recordset($1::jsonb) AS x(id text, tenant text, symbol text, side text, strategy text, model text,
            model_version text, timeframe text, confidence float8, created_at bigint, payload jsonb)`,
      [
        JSON.stringify(
          signals.slice(i, i + 5000).map((s) => ({
            id: s.id,
            tenant: s.tenant,
            symbol: s.symbol,
            side: s.side,
            strategy: s.strategy ?? null,
            model: s.model ?? null,
            model_version: s.modelVersion ?? null,
            timeframe: s.timeframe ?? null,
            confidence: s.confidence ?? null,
            created_at: s.createdAt,
            payload: s,
          })),
        ),
      ],
    );
  }
}
