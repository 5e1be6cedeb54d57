import http from 'node:http';
import type { TrackerEvent } from '../../src/events/TrackerEvent.ts';

/** One message of a Server-Sent Events stream. */
export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

export interface SseClient {
  readonly messages: SseMessage[];
  /** The data events (`event: message`), parsed, each with its SSE id. */
  events(): (TrackerEvent & { sseId: string })[];
  /** Waits until `pred` holds over the messages so far. */
  waitFor(pred: (messages: SseMessage[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
  /** The HTTP status of the answer. */
  status(): Promise<number>;
  /** Whether the server ended the stream. */
  readonly ended: boolean;
  close(): Promise<void>;
}

/** A minimal SSE client on node:http (what EventSource does, without reconnecting by itself). */
export function connectSse(url: string, headers: Record<string, string>): SseClient {
  const messages: SseMessage[] = [];
  let ended = false;
  let resolveStatus: (n: number) => void = () => {};
  const statusPromise = new Promise<number>((r) => (resolveStatus = r));
  const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
    resolveStatus(res.statusCode ?? 0);
    res.setEncoding('utf8');
    let buffer = '';
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const m: SseMessage = { event: 'message', data: '' };
        let any = false;
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          any = true;
          if (field === 'id') m.id = value;
          else if (field === 'event') m.event = value;
          else if (field === 'data') m.data = m.data === '' ? value : `${m.data}\n${value}`;
        }
        if (any && (m.data !== '' || m.id !== undefined)) messages.push(m);
      }
    });
    res.on('end', () => (ended = true));
    res.on('error', () => (ended = true));
  });
  req.on('error', () => {
    ended = true;
    resolveStatus(0);
  });
  return {
    messages,
    events() {
      return messages
        .filter((m) => m.event === 'message')
        .map((m) => ({ ...(JSON.parse(m.data) as TrackerEvent), sseId: m.id! }));
    },
    async waitFor(pred, timeoutMs = 15_000, what = 'the expected events') {
      const deadline = Date.now() + timeoutMs;
      while (!pred(messages)) {
        if (Date.now() > deadline)
          throw new Error(
            `timed out waiting for ${what}; got ${JSON.stringify(messages.map((m) => [m.event, m.data.slice(0, 120)]))}`,
          );
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    status: () => statusPromise,
    get ended() {
      return ended;
    },
    async close() {
      req.destroy();
    },
  };
}
