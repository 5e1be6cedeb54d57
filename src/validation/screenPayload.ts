import { trackerError, type TrackerError } from '../errors.ts';
import { checkStorable } from './checkStorable.ts';

/**
 * Guards of the live intake only (docs/CONFIG.md). Replay, which also serves synthetic and
 * historical data, applies none of them.
 */
export interface LiveGuards {
  /** Largest payload, as JSON, in bytes (MAX_PAYLOAD_BYTES). */
  maxPayloadBytes: number;
  /** Earliest accepted time, epoch ms (MIN_EPOCH_MS): catches times sent in seconds. */
  minEpochMs: number;
  /** How far ahead of the wall clock a time may be (MAX_CLOCK_SKEW_MS). */
  maxClockSkewMs: number;
}

/**
 * What makes a queue payload unusable whatever its fields say: content PostgreSQL cannot
 * store (PAYLOAD_UNSTORABLE), or a size over the limit (PAYLOAD_TOO_LARGE). Each reason names its field.
 */
export function screenPayload(data: unknown, guards: Pick<LiveGuards, 'maxPayloadBytes'>): TrackerError[] {
  const problems = checkStorable(data).map((p) => trackerError('PAYLOAD_UNSTORABLE', p));
  // Measured only when the walk found no runaway nesting, which JSON.stringify would recurse into.
  if (problems.length === 0) {
    const bytes = Buffer.byteLength(JSON.stringify(data) ?? '');
    if (bytes > guards.maxPayloadBytes)
      problems.push(
        trackerError(
          'PAYLOAD_TOO_LARGE',
          `payload: ${bytes} bytes, over the limit of ${guards.maxPayloadBytes} (MAX_PAYLOAD_BYTES)`,
        ),
      );
  }
  return problems;
}

/** Why the live intake refuses time `ts` of field `field`, or null. */
export function checkLiveTime(
  field: string,
  ts: number,
  guards: Pick<LiveGuards, 'minEpochMs' | 'maxClockSkewMs'>,
  wallNow: number,
): TrackerError | null {
  if (ts < guards.minEpochMs) {
    const hint =
      ts * 1000 >= guards.minEpochMs && ts * 1000 <= wallNow + guards.maxClockSkewMs
        ? ': it looks like seconds; times are epoch milliseconds'
        : '';
    return trackerError(
      'TIME_BEFORE_MIN_EPOCH',
      `${field}: ${ts} is before ${new Date(guards.minEpochMs).toISOString()} (MIN_EPOCH_MS)${hint}`,
    );
  }
  if (ts > wallNow + guards.maxClockSkewMs) {
    return trackerError(
      'TIME_AHEAD_OF_CLOCK',
      `${field}: ${ts} (${isoOrNote(ts)}) is more than ${guards.maxClockSkewMs} ms ` +
        `ahead of the clock (MAX_CLOCK_SKEW_MS)`,
    );
  }
  return null;
}

function isoOrNote(ts: number): string {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? 'beyond the largest date' : d.toISOString();
}
