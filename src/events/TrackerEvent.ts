/**
 * The events of the live stream and the webhooks (docs/API.md "Live stream"). A stable list:
 * consumers switch on `type`, so a type is added, never renamed.
 */
export const EVENT_TYPES = [
  'signal.accepted',
  'signal.rejected',
  'signal.filled',
  'signal.leg',
  'signal.stop_moved',
  'signal.closed',
  'operation.applied',
  'operation.rejected',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The event types a shard detects and writes to its outbox beside the checkpoint. */
export type ShardEventType = 'signal.filled' | 'signal.leg' | 'signal.stop_moved';

/** One event as consumers receive it (SSE `data:`, a webhook's body). */
export interface TrackerEvent {
  type: EventType;
  /** The signal's id. */
  id: string;
  tenant: string;
  symbol: string;
  strategy?: string;
  model?: string;
  /** Market time of what happened, epoch ms. */
  ts: number;
  data: Record<string, unknown>;
}

/**
 * An event with its stable key: the same event, published twice (a flusher that stopped between
 * publishing and removing its outbox entries), carries the same key, so consumers drop repeats.
 */
export interface KeyedEvent {
  key: string;
  event: TrackerEvent;
}

/** Whether `text` names an event type. */
export function isEventType(text: string): text is EventType {
  return (EVENT_TYPES as readonly string[]).includes(text);
}
