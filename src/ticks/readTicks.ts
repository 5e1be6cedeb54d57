import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse';
import type { Tick } from '../../machines/types.ts';
import { coerceError } from '../errors.ts';

/** What reading a tick or candle file skipped, by reason (SPEC.md "CSV form"). */
export interface TickFileStats {
  rows: number;
  ticks: number;
  /** Rows skipped for a time that is not an integer within 0..{@link MAX_TICK_TIME}, or no symbol. */
  skippedBadTime: number;
  skippedMissingValues: number;
  /** The first {@link SKIPPED_LINES_KEPT} skipped rows: line number in the file and why. */
  skippedLines: SkippedLine[];
}

export interface SkippedLine {
  line: number;
  reason: string;
}

/** How many skipped rows {@link TickFileStats.skippedLines} keeps. */
export const SKIPPED_LINES_KEPT = 5;

/**
 * The latest tick time (ms): the largest date both JavaScript (`new Date(8.64e15)`) and
 * PostgreSQL's timestamptz hold (SPEC.md v1.2). A later tick could never be stored, and applied
 * it would freeze its symbol (every real tick after it would be late).
 */
export const MAX_TICK_TIME = 8_640_000_000_000_000;

/** A tick file that cannot be read as one: no header, a missing column, not gzip, bad CSV. */
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
  const cols = columns(header.value.cells);
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
  for await (const { cells: row, line } of rows) {
    stats.rows++;
    const sym = (row[symbol!] ?? '').trim().toUpperCase();
    const t = timeOf(row[ts!], sym, line, stats);
    if (t === undefined) continue;
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
        const cell = price === undefined ? '' : (row[price] ?? '');
        const what = cell === '' ? 'no price' : `price ${JSON.stringify(cell)} is not a number above 0`;
        const side = a !== undefined ? 'bid' : b !== undefined ? 'ask' : 'bid or ask';
        skip(stats, line, `${what}, and no ${side} yet for ${sym} to price it at the mid`);
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
  const cols = columns(header.value.cells);
  const need = { ts: pick(cols, 'ts', 'ts_ms'), symbol: pick(cols, 'symbol') };
  const ohlc = ['open', 'high', 'low', 'close'].map((name) => pick(cols, name));
  const missing = [
    need.ts === undefined && 'ts (or ts_ms)',
    need.symbol === undefined && 'symbol',
    ...['open', 'high', 'low', 'close'].filter((_, i) => ohlc[i] === undefined),
  ].filter(Boolean);
  if (missing.length > 0)
    throw new TickFileError(`${file}: candle header has no ${missing.join(', ')} column`);
  for await (const { cells: row, line } of rows) {
    stats.rows++;
    const sym = (row[need.symbol!] ?? '').trim().toUpperCase();
    const t = timeOf(row[need.ts!], sym, line, stats);
    if (t === undefined) continue;
    const [open, high, low, close] = ohlc.map((i) => positive(row[i!]));
    if (open === undefined || high === undefined || low === undefined || close === undefined) {
      stats.skippedMissingValues++;
      const names = ['open', 'high', 'low', 'close'].filter(
        (_, k) => [open, high, low, close][k] === undefined,
      );
      skip(stats, line, `${names.join(', ')} not a number above 0`);
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
  return { rows: 0, ticks: 0, skippedBadTime: 0, skippedMissingValues: 0, skippedLines: [] };
}

/** A row's time, or undefined when the row is skipped for its time or symbol (counted, noted). */
function timeOf(
  cell: string | undefined,
  sym: string,
  line: number,
  stats: TickFileStats,
): number | undefined {
  const t = timeCell(cell);
  let reason: string | undefined;
  if (!Number.isInteger(t) || t < 0)
    reason = `time ${JSON.stringify(cell ?? '')} is not an integer epoch-ms time`;
  else if (t > MAX_TICK_TIME) reason = `time ${cell} is beyond ${MAX_TICK_TIME}, the latest time allowed`;
  else if (sym === '') reason = 'symbol is empty';
  if (reason === undefined) return t;
  stats.skippedBadTime++;
  skip(stats, line, reason);
  return undefined;
}

function skip(stats: TickFileStats, line: number, reason: string): void {
  if (stats.skippedLines.length < SKIPPED_LINES_KEPT) stats.skippedLines.push({ line, reason });
}

/**
 * The CSV records of `file` with their line numbers. Every failure of the file, the gzip stream
 * or the CSV parser ends the iteration with one error naming the file, never an unhandled
 * 'error' event: a .gz file that is truncated, or not gzip at all, fails in the gunzip stream.
 */
async function* csvRows(file: string): AsyncGenerator<{ cells: string[]; line: number }> {
  const source = createReadStream(file);
  // Line numbers are counted here rather than with csv-parse's `info` (a third slower on the
  // bundled files): every line is a record once blank lines are kept and skipped below, which
  // holds unless a quoted cell spans lines, something tick files do not have (refused below).
  const parser = parse({ relax_column_count: true, skip_empty_lines: false, trim: true, bom: true });
  let failure: Error | undefined;
  const fail = (err: Error): void => {
    failure ??= err;
    parser.destroy(err);
  };
  source.on('error', fail);
  if (file.endsWith('.gz')) {
    const gunzip = createGunzip();
    gunzip.on('error', (err) =>
      fail(
        new TickFileError(
          `${file}: cannot decompress (${err.message}): a truncated .gz file, or not gzip at all`,
        ),
      ),
    );
    source.pipe(gunzip).pipe(parser);
  } else {
    source.pipe(parser);
  }
  try {
    let line = 0;
    for await (const cells of parser as AsyncIterable<string[]>) {
      line++;
      if (cells.length === 1 && cells[0] === '') continue;
      // A stray quote pairs with the next one and swallows every line in between into one
      // cell: refuse the file rather than lose those rows without a word.
      for (const cell of cells)
        if (cell.includes('\n') || cell.includes('\r'))
          throw new TickFileError(
            `${file}: a quoted cell starting at line ${line} runs over several lines (a stray quote?); tick files have none`,
          );
      yield { cells, line };
    }
  } catch (err) {
    const cause = failure ?? err;
    if (cause instanceof TickFileError) throw cause;
    const code = (cause as { code?: string }).code;
    // File system errors (ENOENT, EACCES…) already name the path; CSV errors do not.
    if (code !== undefined && /^E[A-Z]+$/.test(code)) throw cause;
    throw new TickFileError(`${file}: ${coerceError(cause).message}`);
  } finally {
    source.destroy();
  }
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
