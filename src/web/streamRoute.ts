import type { FastifyInstance, FastifyRequest } from 'fastify';
import { compareStreamIds, type EventReader, type StreamEntry } from '../events/createEventReader.ts';
import { EVENT_TYPES, isEventType } from '../events/TrackerEvent.ts';
import { HttpError } from './httpErrors.ts';
import { tenantScope } from './tenantScope.ts';
import { OWN_VALIDATION, responses, secured, TENANT_QUERY } from './v1/apiSchemas.ts';

export interface StreamRouteOptions {
  reader: EventReader;
  /** SSE_HEARTBEAT_MS. */
  heartbeatMs: number;
  /** SSE_MAX_BUFFER_BYTES. */
  maxBufferBytes: number;
  /** SSE_MAX_STREAMS_PER_KEY: streams one key may hold open on this process at once. */
  maxStreamsPerKey: number;
}

/** Entries read per XRANGE while a resuming client catches up. */
const CATCH_UP_PAGE = 500;
/** How long a dropped client's socket may take to drain its farewell before it is cut. */
const FAREWELL_MS = 5000;

const commaList = (what: string) => ({
  type: 'string',
  description: `Comma list of ${what}; an event passes when its field is in the list (one value of the parameter: a repeated one is 400).`,
});

/**
 * The route's options: its scope and its OpenAPI description. The handler checks the query
 * itself (parseFilter, lastEventIdOf), as it always has: the schema documents it.
 */
const STREAM_ROUTE = {
  config: { scope: 'read' as const },
  ...OWN_VALIDATION,
  schema: {
    tags: ['stream'],
    summary: "Server-Sent Events of the tenant's events as they happen",
    description:
      'Scope `read`. A `text/event-stream` that stays open (docs/API.md "Live stream"). Each event is one SSE message ' +
      'without an `event:` name: `id:` its events-stream entry id (`<ms>-<seq>`), `data:` one JSON object ' +
      '`{ type, id, tenant, symbol, strategy?, model?, ts, data }`. A client that reconnects with `Last-Event-ID` ' +
      '(or `?lastEventId=`) gets every event after that id, once, preceded by `event: gap` when some were trimmed. ' +
      'Comment lines (`: heartbeat`) keep it alive; a client that reads too slowly receives `event: error` ' +
      '(`SLOW_CONSUMER`) and is disconnected. Errors found before the stream starts (bad filter, bad ' +
      "`Last-Event-ID`, another tenant, more than SSE_MAX_STREAMS_PER_KEY streams of one key: 429) are answered as JSON, like every route's.",
    ...secured('read'),
    querystring: {
      type: 'object',
      properties: {
        type: {
          type: 'string',
          description: `Comma list of event types (${EVENT_TYPES.join(', ')}); an unknown type is 400 BAD_REQUEST.`,
        },
        symbol: commaList('symbols (compared upper-cased)'),
        strategy: commaList('strategies (an event without a strategy never matches)'),
        model: commaList('models (an event without a model never matches)'),
        ...TENANT_QUERY,
        lastEventId: {
          type: 'string',
          pattern: '^\\d{1,20}-\\d{1,20}$',
          description:
            'Resume after this event id, as the `Last-Event-ID` header does (the header wins when both are given).',
        },
      },
    },
    headers: {
      type: 'object',
      properties: {
        'last-event-id': {
          type: 'string',
          pattern: '^\\d{1,20}-\\d{1,20}$',
          description: 'Resume after this event id (EventSource sends it by itself when it reconnects).',
        },
      },
    },
    response: responses({
      200: {
        description:
          'The event stream. Messages: `id: <entry id>` + `data: <event JSON>` for each event; ' +
          '`event: gap` + `data: {"lastEventId","firstAvailableId"}` when a resume point was trimmed; ' +
          '`event: error` + `data: {"code","message"}` (SLOW_CONSUMER, INTERNAL_ERROR) just before the server ends the stream; ' +
          'comment lines (`: heartbeat`) every SSE_HEARTBEAT_MS.',
        content: {
          'text/event-stream': {
            schema: {
              type: 'string',
              examples: [
                'id: 1764671234567-0\ndata: {"type":"signal.closed","id":"sig-42","tenant":"acme","symbol":"BTCUSDT","ts":1764671234000,"data":{}}\n\n',
              ],
            },
          },
        },
      },
    }),
  },
};

interface Filter {
  tenant: string | null;
  types: Set<string> | null;
  symbols: Set<string> | null;
  strategies: Set<string> | null;
  models: Set<string> | null;
}

/**
 * `GET /v1/stream` (docs/API.md "Live stream"): Server-Sent Events of the tenant's events,
 * filtered by `type`, `symbol`, `strategy`, `model` (comma lists). Each event's SSE id is its
 * events-stream entry id: a client that reconnects with `Last-Event-ID` gets every event after
 * it, once, or an `event: gap` first when some were trimmed meanwhile.
 */
export function streamRoute(opts: StreamRouteOptions) {
  return async (app: FastifyInstance): Promise<void> => {
    const open = new Set<() => void>();
    /** Streams open per API key id, on this process. */
    const perKey = new Map<string, number>();
    // SSE connections never end by themselves: end them first, or close() would wait forever.
    app.addHook('preClose', async () => {
      for (const end of [...open]) end();
    });

    app.get('/v1/stream', STREAM_ROUTE, async (request, reply) => {
      const filter = parseFilter(request);
      const lastEventId = lastEventIdOf(request);
      const keyId = request.principal!.keyId;
      const held = perKey.get(keyId) ?? 0;
      if (held >= opts.maxStreamsPerKey) {
        void reply.header('retry-after', '5');
        throw new HttpError(
          'RATE_LIMITED',
          `this API key holds ${held} live streams open already (SSE_MAX_STREAMS_PER_KEY): close one first`,
        );
      }
      perKey.set(keyId, held + 1);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(': outcome-tracker events\n\n');

      let done = false;
      let cursor = lastEventId;
      /** Live entries that arrive while the client catches up. */
      let pending: StreamEntry[] | null = lastEventId === null ? null : [];
      /** Sends `entry` unless it is at or before the cursor (only the catch-up needs the check). */
      const sendAfterCursor = (entry: StreamEntry): void => {
        if (cursor !== null && compareStreamIds(entry.id, cursor) <= 0) return;
        cursor = entry.id;
        send(entry);
      };
      const send = (entry: StreamEntry): void => {
        if (done || !matches(filter, entry)) return;
        res.write(frameOf(entry));
        if (res.writableLength > opts.maxBufferBytes) drop();
      };
      /** A live batch in one write (one syscall per client per read, not per event). */
      const sendBatch = (batch: readonly StreamEntry[]): void => {
        if (done) return;
        const text = tenantOnly(filter)
          ? batchFrame(batch, filter.tenant)
          : batch
              .filter((e) => matches(filter, e))
              .map(frameOf)
              .join('');
        if (text === '') return;
        res.write(text);
        if (res.writableLength > opts.maxBufferBytes) drop();
      };
      // Live entries come in stream order, each once: once caught up, no cursor to compare.
      const unsubscribe = opts.reader.subscribe((batch) => {
        if (pending !== null) pending.push(...batch);
        else sendBatch(batch);
      });
      const heartbeat = setInterval(() => {
        if (!done) res.write(': heartbeat\n\n');
      }, opts.heartbeatMs);
      heartbeat.unref();
      const end = (): void => {
        if (done) return;
        done = true;
        const left = (perKey.get(keyId) ?? 1) - 1;
        if (left > 0) perKey.set(keyId, left);
        else perKey.delete(keyId);
        unsubscribe();
        clearInterval(heartbeat);
        open.delete(end);
        res.end();
      };
      const drop = (): void => {
        if (done) return;
        const message = `more than ${opts.maxBufferBytes} bytes unsent: reading too slowly; reconnect with Last-Event-ID`;
        request.log.warn({ unsent: res.writableLength }, 'SSE client dropped: it reads too slowly');
        res.write(`event: error\ndata: ${JSON.stringify({ code: 'SLOW_CONSUMER', message })}\n\n`);
        // The connection goes too, not only the response (keep-alive would hold the socket and
        // its unsent megabyte): closed once flushed, cut if the client does not read it in time.
        const socket = res.socket;
        end();
        socket?.end();
        if (socket) setTimeout(() => socket.destroy(), FAREWELL_MS).unref();
      };
      open.add(end);
      request.raw.on('close', end);

      if (lastEventId === null) return;
      try {
        const point = await opts.reader.resumePoint(lastEventId);
        if (point.gap && !done) {
          const data = { lastEventId, firstAvailableId: point.firstId };
          res.write(`event: gap\ndata: ${JSON.stringify(data)}\n\n`);
        }
        let after = lastEventId;
        for (;;) {
          const page = await opts.reader.readAfter(after, CATCH_UP_PAGE);
          for (const entry of page.entries) sendAfterCursor(entry);
          if (page.last === null || done) break;
          after = page.last;
          if (compareStreamIds(after, cursor ?? after) > 0) cursor = after;
        }
        const live = pending ?? [];
        pending = null;
        for (const entry of live) sendAfterCursor(entry);
      } catch (err) {
        request.log.error({ err }, 'SSE catch-up failed');
        if (!done)
          res.write(
            `event: error\ndata: ${JSON.stringify({ code: 'INTERNAL_ERROR', message: 'the server failed; reconnect' })}\n\n`,
          );
        end();
      }
    });
  };
}

/** An entry's SSE frame, built once however many clients it goes to. */
const frames = new WeakMap<StreamEntry, string>();
function frameOf(entry: StreamEntry): string {
  let frame = frames.get(entry);
  if (frame === undefined) frames.set(entry, (frame = `id: ${entry.id}\ndata: ${entry.json}\n\n`));
  return frame;
}

/** A live batch's frames of one tenant (or of all: null), joined once for all its clients without other filters. */
const batchFrames = new WeakMap<readonly StreamEntry[], Map<string | null, string>>();
function batchFrame(batch: readonly StreamEntry[], tenant: string | null): string {
  let byTenant = batchFrames.get(batch);
  if (byTenant === undefined) batchFrames.set(batch, (byTenant = new Map()));
  let text = byTenant.get(tenant);
  if (text === undefined) {
    text = batch
      .filter((e) => tenant === null || e.tenant === tenant)
      .map(frameOf)
      .join('');
    byTenant.set(tenant, text);
  }
  return text;
}

/** Whether the filter is the tenant's alone (the common case: frames shared by its clients). */
function tenantOnly(f: Filter): boolean {
  return f.types === null && f.symbols === null && f.strategies === null && f.models === null;
}

type Labels = { symbol?: string; strategy?: string; model?: string };
/** An entry's symbol, strategy and model, parsed once for every client that filters on them. */
const labels = new WeakMap<StreamEntry, Labels>();

function matches(filter: Filter, entry: StreamEntry): boolean {
  if (filter.tenant !== null && entry.tenant !== filter.tenant) return false;
  if (filter.types !== null && !filter.types.has(entry.type)) return false;
  if (filter.symbols === null && filter.strategies === null && filter.models === null) return true;
  let event = labels.get(entry);
  if (event === undefined) labels.set(entry, (event = JSON.parse(entry.json) as Labels));
  if (filter.symbols !== null && !filter.symbols.has(event.symbol ?? '')) return false;
  if (filter.strategies !== null && !filter.strategies.has(event.strategy ?? '')) return false;
  if (filter.models !== null && !filter.models.has(event.model ?? '')) return false;
  return true;
}

function parseFilter(request: FastifyRequest): Filter {
  const q = (request.query ?? {}) as Record<string, unknown>;
  const list = (name: string, upper = false): Set<string> | null => {
    const v = q[name];
    if (v === undefined) return null;
    if (typeof v !== 'string') throw new HttpError('BAD_REQUEST', `${name}: give one comma-separated list`);
    const items = v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((s) => (upper ? s.toUpperCase() : s));
    return items.length === 0 ? null : new Set(items);
  };
  const types = list('type');
  for (const t of types ?? [])
    if (!isEventType(t)) throw new HttpError('BAD_REQUEST', `type: unknown event type ${JSON.stringify(t)}`);
  const tenant = q.tenant;
  if (tenant !== undefined && typeof tenant !== 'string')
    throw new HttpError('BAD_REQUEST', 'tenant: give one');
  return {
    tenant: tenantScope(request.principal!, tenant),
    types,
    symbols: list('symbol', true),
    strategies: list('strategy'),
    models: list('model'),
  };
}

const MAX_U64 = 2n ** 64n - 1n;

/** The resume position: the `Last-Event-ID` header, or `?lastEventId=` for clients that cannot set headers. */
function lastEventIdOf(request: FastifyRequest): string | null {
  const header = request.headers['last-event-id'];
  const q = (request.query ?? {}) as Record<string, unknown>;
  const value = typeof header === 'string' && header !== '' ? header : q.lastEventId;
  if (value === undefined || value === '') return null;
  // Redis stream ids are two unsigned 64-bit integers: a larger part is refused by Redis, mid-stream.
  const parts = typeof value === 'string' ? /^(\d{1,20})-(\d{1,20})$/.exec(value) : null;
  if (parts === null || BigInt(parts[1]!) > MAX_U64 || BigInt(parts[2]!) > MAX_U64)
    throw new HttpError('BAD_REQUEST', 'Last-Event-ID: not an id this stream gave (<ms>-<seq>)');
  return value as string;
}
