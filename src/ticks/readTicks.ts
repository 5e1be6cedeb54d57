import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse';
import type { Tick } from '../../machines/types.ts';

/** What reading a tick or candle file skipped, by reason (SPEC.md "CSV form"). */
export interface TickFileStats {
  rows: number;
  ticks: number;
  skippedBadTime: number;
  skippedMissingValues: number;
}

export class TickFileError extends Error {
  override name = 'TickFileError';
}

type Columns = Record<string, number>;

/**
 * Reads a tick CSV (plain or .gz) as SPEC.md describes: `ts`/`ts_ms` and `symbol` required,
 * `price` and quotes (`bid`/`ask` or `bid_price`/`ask_price`) optional but one present;
 * header names case-insensitive, the shorter name winning; a cell that is not a finite
 * number above zero is empty; a quote side left empty keeps its last value for the symbol;
 * a row without price is a quote update priced at the mid. Bad rows are skipped and counted.
 */
export async function* readTicks(file: string, stats: TickFileStats = newStats()): AsyncGenerator<Tick> {
  const rows = csvRows(file);
  const header = await rows.next();
  if (header.done) throw new TickFileError(`${file}: empty file, expected a header line`);
  const cols = columns(header.value as string[]);
  const ts = pick(cols, 'ts', 'ts_ms');
  const symbol = pick(cols, 'symbol');
  const price = pick(cols, 'price');
  const bid = pick(cols, 'bid', 'bid_price');
  const ask = pick(cols, 'ask', 'ask_price');
  const missing = [ts === undefined && 'ts (or ts_ms)', symbol === undefined && 'symbol'].filter(Boolean);
  if (missing.length > 0)
    throw new TickFileError(`${file}: header has no ${missing.join(' and no ')} column`);
  if (price === undefined && bid === undefined && ask === undefined) {
    throw new TickFileError(
      `${file}: header has none of the price columns: price, bid/bid_price, ask/ask_price`,
    );
  }
  const lastBid = new Map<string, number>();
  const lastAsk = new Map<string, number>();
  for await (const row of rows) {
    stats.rows++;
    const t = timeCell(row[ts!]);
    const sym = (row[symbol!] ?? '').trim().toUpperCase();
    if (!Number.isInteger(t) || t < 0 || sym === '') {
      stats.skippedBadTime++;
      continue;
    }
    let b = bid === undefined ? undefined : positive(row[bid]);
    let a = ask === undefined ? undefined : positive(row[ask]);
    if (b === undefined) b = lastBid.get(sym);
    else lastBid.set(sym, b);
    if (a === undefined) a = lastAsk.get(sym);
    else lastAsk.set(sym, a);
    let p = price === undefined ? undefined : positive(row[price]);
    if (p === undefined) {
      if (b === undefined || a === undefined) {
        stats.skippedMissingValues++;
        continue;
      }
      p = (b + a) / 2;
    }
    const tick: Tick = { symbol: sym, ts: t, price: p };
    if (b !== undefined) tick.bid = b;
    if (a !== undefined) tick.ask = a;
    stats.ticks++;
    yield tick;
  }
}

/**
 * Reads a candle CSV and expands every bar into four ticks at ts, ts+1, ts+2, ts+3: a
 * bullish bar (close >= open) as open, low, high, close; a bearish one as open, high, low,
 * close (SPEC.md "Candles").
 */
export async function* readCandles(file: string, stats: TickFileStats = newStats()): AsyncGenerator<Tick> {
  const rows = csvRows(file);
  const header = await rows.next();
  if (header.done) throw new TickFileError(`${file}: empty file, expected a header line`);
  const cols = columns(header.value as string[]);
  const need = { ts: pick(cols, 'ts', 'ts_ms'), symbol: pick(cols, 'symbol') };
  const ohlc = ['open', 'high', 'low', 'close'].map((name) => pick(cols, name));
  const missing = [
    need.ts === undefined && 'ts (or ts_ms)',
    need.symbol === undefined && 'symbol',
    ...['open', 'high', 'low', 'close'].filter((_, i) => ohlc[i] === undefined),
  ].filter(Boolean);
  if (missing.length > 0)
    throw new TickFileError(`${file}: candle header has no ${missing.join(', ')} column`);
  for await (const row of rows) {
    stats.rows++;
    const t = timeCell(row[need.ts!]);
    const sym = (row[need.symbol!] ?? '').trim().toUpperCase();
    if (!Number.isInteger(t) || t < 0 || sym === '') {
      stats.skippedBadTime++;
      continue;
    }
    const [open, high, low, close] = ohlc.map((i) => positive(row[i!]));
    if (open === undefined || high === undefined || low === undefined || close === undefined) {
      stats.skippedMissingValues++;
      continue;
    }
    const path = close >= open ? [open, low, high, close] : [open, high, low, close];
    for (let k = 0; k < 4; k++) {
      stats.ticks++;
      yield { symbol: sym, ts: t + k, price: path[k]! };
    }
  }
}

export function newStats(): TickFileStats {
  return { rows: 0, ticks: 0, skippedBadTime: 0, skippedMissingValues: 0 };
}

function csvRows(file: string): AsyncIterableIterator<string[]> {
  const source = createReadStream(file);
  const input = file.endsWith('.gz') ? source.pipe(createGunzip()) : source;
  const parser = input.pipe(parse({ relax_column_count: true, skip_empty_lines: true, trim: true }));
  source.on('error', (err) => parser.destroy(err));
  return parser[Symbol.asyncIterator]() as AsyncIterableIterator<string[]>;
}

function columns(header: string[]): Columns {
  const cols: Columns = {};
  header.forEach((name, i) => {
    const key = name.trim().toLowerCase();
    if (!(key in cols)) cols[key] = i;
  });
  return cols;
}

/** The first present of the names, shortest first (SPEC.md: the shorter name wins). */
function pick(cols: Columns, ...names: string[]): number | undefined {
  for (const name of names) if (name in cols) return cols[name];
  return undefined;
}

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * A time cell as a number, in decimal notation only: an empty cell is no time (Number('')
 * would be epoch 0), and neither is '0x10'.
 */
function timeCell(cell: string | undefined): number {
  return cell !== undefined && DECIMAL.test(cell) ? Number(cell) : NaN;
}

/** A cell that is not a finite number above zero counts as empty. */
function positive(cell: string | undefined): number | undefined {
  if (cell === undefined || cell === '') return undefined;
  const n = Number(cell);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}
