/**
 * Real outcomes for the report tests, stored as the flusher stores them: the demo's signal
 * generator on the bundled IBM trades, evaluated by the production engine (replay), each signal
 * recorded as accepted (recordAccepted) and each closed outcome written by writeOutboxBatch.
 * Two tenants, and one strategy whose name tries to break out of the report's inlined JSON.
 */
import type pg from 'pg';
import type { OutcomeLine, SignalPayload } from '../../machines/types.ts';
import { generateSignals, spreadAnchors } from '../../src/demo/generateSignals.ts';
import { replaySync } from '../../src/replay/replay.ts';
import { inTransaction } from '../../src/storage/inTransaction.ts';
import { recordAccepted } from '../../src/storage/recordAccepted.ts';
import { writeOutboxBatch } from '../../src/storage/writeOutboxBatch.ts';
import { validateSignal } from '../../src/validation/validateSignal.ts';
import { readDataTicks } from './dataFile.ts';

/** A strategy name that would end a `<script>` element, open an HTML comment and end a JS line. */
export const HOSTILE_STRATEGY = '</script><!--<script>window.pwned=1</script>\u2028\u2029"\'';

/** The tenants: most signals are `acme`'s, every fifth `globex`'s. */
export const REPORT_TENANTS = ['acme', 'globex'] as const;

/**
 * Stores the outcomes of `count` generated signals in `pool`'s database; returns the closed
 * outcome lines per signal id with the payloads (tests compare what was drawn against
 * PostgreSQL, not against these).
 */
export async function storeReportOutcomes(
  pool: pg.Pool,
  count = 160,
): Promise<{ signals: SignalPayload[]; closed: OutcomeLine[] }> {
  const ticks = await readDataTicks('lean_usequity_IBM_trades_2013-10-07_11.csv.gz');
  const signals = generateSignals(spreadAnchors(ticks, count), { count, seed: 11, prefix: 'rep' }).map(
    (s, i) => ({
      ...s,
      tenant: i % 5 === 4 ? 'globex' : 'acme',
      // globex's own strategy name, which acme's report must never show.
      ...(i % 5 === 4 ? { strategy: 'globex-secret' } : i % 7 === 0 ? { strategy: HOSTILE_STRATEGY } : {}),
    }),
  );
  for (const payload of signals) {
    const checked = validateSignal(payload);
    if (!checked.ok) throw new Error(`generated signal ${payload.id} is invalid: ${JSON.stringify(checked)}`);
    await recordAccepted(pool, checked.signal, payload, null);
  }
  const closed = replaySync({ signals, ticks }).lines.filter((l): l is OutcomeLine => l.state === 'closed');
  const symbolOf = new Map(signals.map((s) => [s.id, s.symbol]));
  await inTransaction(pool, (client) =>
    writeOutboxBatch(
      client,
      closed.map((outcome) => ({ symbol: symbolOf.get(outcome.id!)!, outcome })),
      [],
    ),
  );
  return { signals, closed };
}
