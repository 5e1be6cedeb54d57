/**
 * A timestamptz in PostgreSQL's binary format (a 64-bit count of microseconds since
 * 2000-01-01 UTC) → epoch milliseconds, the number `toMs` (./epochMs.ts) gives for it in SQL:
 * `round(extract(epoch FROM t) * 1000)`, half away from zero, ±Infinity for ±infinity.
 * Reading the 8 bytes here spares PostgreSQL two numeric operations per value (about 1 s for the
 * analyzer's million outcomes with two timestamps each).
 */

/** Microseconds from 1970-01-01 to 2000-01-01. */
const EPOCH_2000_US = 946_684_800_000_000;

export function binaryTimestampMs(buffer: Buffer, offset: number): number {
  const hi = buffer.readInt32BE(offset);
  const lo = buffer.readUInt32BE(offset + 4);
  // PostgreSQL's infinity and -infinity are the largest and smallest int64.
  if (hi === 0x7fffffff && lo === 0xffffffff) return Infinity;
  if (hi === -0x80000000 && lo === 0) return -Infinity;
  // Exact as a double for any time within ±285 years of 2000 (|µs| < 2^53); beyond that the
  // last bits of a microsecond count round, which no outcome's time reaches.
  const us = hi * 4_294_967_296 + lo + EPOCH_2000_US;
  // numeric round(): half away from zero. us / 1000 is the correctly rounded quotient of an
  // integer, so a true half stays a half and nothing else becomes one.
  const ms = Math.round(Math.abs(us) / 1000);
  return us < 0 ? -ms : ms;
}
