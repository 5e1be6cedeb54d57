import type { RedisClient } from '../RedisClient.ts';
import type { EventKeys } from '../names.ts';
import { STREAM_FIELDS } from './publishEvents.ts';
import type { TrackerEvent } from './TrackerEvent.ts';

/** What {@link readSignalEvents} found, and whether it read the whole span. */
export interface SignalEvents {
  events: TrackerEvent[];
  /** Entries read from the stream. */
  scanned: number;
  /** Stopped at `maxEntries` before the signal's close (or the stream's end). */
  incomplete: boolean;
}

/**
 * One signal's events from the events stream (docs/API.md "Live stream"), reading from `fromMs`
 * (wall time, the stream ids' clock: when the intake stored the signal) until its
 * `signal.closed` or the end of the stream, at most `maxEntries` entries. Events trimmed by
 * EVENTS_RETENTION are gone; repeats (same key) are dropped.
 */
export async function readSignalEvents(
  redis: RedisClient,
  keys: EventKeys,
  signal: { id: string; tenant: string; fromMs: number },
  maxEntries = 20_000,
): Promise<SignalEvents> {
  const events: TrackerEvent[] = [];
  const seen = new Set<string>();
  let start = `${Math.max(0, Math.floor(signal.fromMs))}-0`;
  let scanned = 0;
  while (scanned < maxEntries) {
    const page = await redis.xrange(keys.stream, start, '+', 'COUNT', Math.min(1000, maxEntries - scanned));
    scanned += page.length;
    for (const [, fields] of page) {
      // Names at even positions only: a value may spell a field's name.
      const field = (name: string): string | undefined => {
        for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
        return undefined;
      };
      if (field(STREAM_FIELDS.tenant) !== signal.tenant) continue;
      const json = field(STREAM_FIELDS.event);
      const key = field(STREAM_FIELDS.key) ?? '';
      if (json === undefined || seen.has(key)) continue;
      const event = JSON.parse(json) as TrackerEvent;
      if (event.id !== signal.id) continue;
      seen.add(key);
      events.push(event);
      if (event.type === 'signal.closed') return { events, scanned, incomplete: false };
    }
    if (page.length < 1000) return { events, scanned, incomplete: false };
    start = `(${page[page.length - 1]![0]}`;
  }
  return { events, scanned, incomplete: true };
}
