import type { RedisClient } from '../RedisClient.ts';
import type { EventKeys } from '../names.ts';
import type { KeyedEvent } from './TrackerEvent.ts';

/** How much of the events stream Redis keeps (EVENTS_RETENTION, EVENTS_RETENTION_MS). */
export interface EventRetention {
  /** Entries kept, about (`MAXLEN ~`: Redis trims whole nodes, so a few more may stay). */
  maxLen: number;
  /** Entries older than this are trimmed too (`MINID ~`); 0: no age limit. */
  maxAgeMs: number;
}

/** The fields of a stream entry: its stable key, its type and tenant (to filter without parsing), the event. */
export const STREAM_FIELDS = { key: 'k', type: 't', tenant: 'n', event: 'e' } as const;

/**
 * Appends events to the events stream (XADD, trimmed to `retention`), in the order given, in
 * one round trip. Rejects if Redis refused any of them: the caller keeps its outbox entries
 * and publishes again (consumers drop the repeats by key).
 */
export async function publishEvents(
  redis: RedisClient,
  keys: EventKeys,
  events: readonly KeyedEvent[],
  retention: EventRetention,
  now: () => number,
): Promise<string[]> {
  if (events.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const { key, event } of events) {
    pipeline.xadd(
      keys.stream,
      'MAXLEN',
      '~',
      retention.maxLen,
      '*',
      STREAM_FIELDS.key,
      key,
      STREAM_FIELDS.type,
      event.type,
      STREAM_FIELDS.tenant,
      event.tenant,
      STREAM_FIELDS.event,
      JSON.stringify(event),
    );
  }
  if (retention.maxAgeMs > 0) pipeline.xtrim(keys.stream, 'MINID', '~', now() - retention.maxAgeMs);
  const replies = (await pipeline.exec()) ?? [];
  const ids: string[] = [];
  for (const [err, id] of replies) {
    if (err) throw err;
    ids.push(String(id));
  }
  return ids.slice(0, events.length);
}
