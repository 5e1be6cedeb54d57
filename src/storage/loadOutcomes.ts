/**
 * Reads closed outcomes from signal_outcomes into {@link OutcomeColumns}: only the columns the
 * analyzer needs, the legs reduced in SQL to three small facts (highest TP filled, whether the
 * position went on after TP1, the closing stop's kind), streamed with `COPY … TO STDOUT (FORMAT
 * binary)` and decoded into the columns as they arrive, so that a million rows never sit in
 * memory as row objects.
 *
 * Why COPY in binary: through node-postgres' row protocol every value of a million rows arrived
 * as text, was decoded to a string and then parsed (about 4 s of the analyzer's CPU for 1M rows),
 * and PostgreSQL spent seconds printing the doubles as text. In binary a double is 8 bytes read
 * as they are: the same value to the bit (PostgreSQL's text output of float8 round-trips too).
 */
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { OutcomeColumnsBuilder, type OutcomeColumns, type OutcomeRow } from '../analysis/outcomeColumns.ts';
import { CopyBinaryParser } from './CopyBinaryParser.ts';
import { binaryTimestampMs } from './binaryTimestampMs.ts';
import { fromMs } from './epochMs.ts';
import { TextInterner } from './TextInterner.ts';

/** Which outcomes to read. */
export interface LoadOutcomesOptions {
  /** Outcomes closed before this time (epoch ms, exclusive). */
  end: number;
  /** Outcomes closed at or after this time (epoch ms); all history when left out. */
  since?: number;
  /** One tenant only. */
  tenant?: string;
}

// Column order = OutcomeRow; the types are those decodeRow reads. No ORDER BY: sorting a million
// wide rows costs PostgreSQL seconds, while OutcomeColumnsBuilder orders them by close
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
/** The SELECT for one load; COPY takes no parameters, so the values are written in, checked or quoted. */
function selectOutcomes(client: pg.ClientBase, options: LoadOutcomesOptions): string {
  const ms = (name: string, value: number): string => {
    if (!Number.isSafeInteger(value))
      throw new RangeError(`${name} must be whole epoch milliseconds, got ${value}`);
    return fromMs(String(value));
  };
  return `
  SELECT tenant, strategy, model, model_version, symbol, timeframe,
         closed_at, coalesce(signal_created_at, fill_ts, closed_at),
         outcome, net_return, r_multiple, holding_ms::float8, mfe, mae, confidence,
         (${MAX_TP_LEVEL})::int4,
         ${CONTINUED_AFTER_TP1},
         CASE WHEN legs->-1->>'reason' = 'SL' THEN legs->-1->>'stopKind' END,
         pnl, fees
  FROM signal_outcomes
  WHERE closed_at < ${ms('end', options.end)}
    ${options.since === undefined ? '' : `AND closed_at >= ${ms('since', options.since)}`}
    ${options.tenant === undefined ? '' : `AND tenant = ${client.escapeLiteral(options.tenant)}`}`;
}

/** Columns of the SELECT, in order. */
const FIELDS = 20;

/** Field `f` of a COPY binary row as text (NULL → null). */
function text(t: TextInterner, b: Buffer, s: Int32Array, l: Int32Array, f: number): string | null {
  return l[f]! < 0 ? null : t.text(b, s[f]!, l[f]!);
}

/** Field `f` as a float8 (NULL → null). */
function float8(b: Buffer, s: Int32Array, l: Int32Array, f: number): number | null {
  return l[f]! < 0 ? null : b.readDoubleBE(s[f]!);
}

/** One COPY binary row of the SELECT as an {@link OutcomeRow}. */
function decodeRow(t: TextInterner, b: Buffer, s: Int32Array, l: Int32Array): OutcomeRow {
  return [
    text(t, b, s, l, 0)!,
    text(t, b, s, l, 1),
    text(t, b, s, l, 2),
    text(t, b, s, l, 3),
    text(t, b, s, l, 4)!,
    text(t, b, s, l, 5),
    binaryTimestampMs(b, s[6]!),
    l[7]! < 0 ? null : binaryTimestampMs(b, s[7]!),
    text(t, b, s, l, 8)!,
    float8(b, s, l, 9),
    float8(b, s, l, 10),
    float8(b, s, l, 11),
    float8(b, s, l, 12),
    float8(b, s, l, 13),
    float8(b, s, l, 14),
    b.readInt32BE(s[15]!),
    b[s[16]!] === 1,
    text(t, b, s, l, 17),
    float8(b, s, l, 18),
    float8(b, s, l, 19),
  ];
}

/**
 * Loads the outcomes into columns, in close order (outcomes closed in the same millisecond keep
 * the order PostgreSQL returned them in). One COPY is one statement, so one snapshot: outcomes
 * landing meanwhile cannot appear halfway.
 */
export async function loadOutcomes(pool: pg.Pool, options: LoadOutcomesOptions): Promise<OutcomeColumns> {
  const client = await pool.connect();
  // A COPY left half-read leaves the connection mid-protocol: on any failure it is closed, not reused.
  let broken = true;
  // While it is out of the pool, a connection that dies (PostgreSQL restarting) emits 'error' on
  // the client: unheard, that would end the process (the fault campaign's pg-stop rounds did).
  // The COPY in flight fails with the same error, which the caller sees.
  const onError = (): void => {
    broken = true;
  };
  client.on('error', onError);
  try {
    const builder = new OutcomeColumnsBuilder(65_536);
    // The text columns are all keys of few distinct values (tenant, strategy, model, version,
    // symbol, timeframe, outcome, stop kind): each is decoded once.
    const interner = new TextInterner();
    const parser = new CopyBinaryParser(FIELDS, (b, s, l) => builder.push(decodeRow(interner, b, s, l)));
    const stream = client.query(
      copyTo(`COPY (${selectOutcomes(client, options)}) TO STDOUT (FORMAT binary)`),
    );
    for await (const chunk of stream) parser.write(chunk as Buffer);
    parser.end();
    broken = false;
    return builder.finish();
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
