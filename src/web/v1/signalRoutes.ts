import { Job } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { OutcomeLine } from '../../../machines/types.ts';
import { trackerError } from '../../errors.ts';
import { readLive } from '../../live/readLive.ts';
import { signalJobId } from '../../names.ts';
import { findAccepted } from '../../storage/findAccepted.ts';
import { findSignal } from '../../storage/findSignal.ts';
import { readOutcomeLines } from '../../storage/readOutcomeLines.ts';
import { readSignalHistory } from '../../storage/readSignalHistory.ts';
import { checkLiveTime, screenPayload } from '../../validation/screenPayload.ts';
import { validateOperation } from '../../validation/validateOperation.ts';
import type { Principal } from '../createKeyLookup.ts';
import { HttpError } from '../httpErrors.ts';
import { tenantScope } from '../tenantScope.ts';
import type { ApiDeps } from './ApiDeps.ts';
import {
  OPERATION_REFS,
  OWN_VALIDATION,
  REASON_SCHEMA,
  responses,
  secured,
  TENANT_QUERY,
  TRACK_SIGNAL_REF,
} from './apiSchemas.ts';
import { IDEMPOTENT_REPLAYED_HEADER, readIdempotencyKey } from './idempotencyKey.ts';
import { OPERATION_IDEMPOTENCY_KEY_HEADER, operationIdempotency } from './operationIdempotency.ts';
import { MAX_SIGNALS_PER_REQUEST, submitSignals } from './submitSignals.ts';

const ID_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 128, description: 'The signal id.' } },
};

const SUBMISSION_SCHEMA = {
  type: 'object',
  required: ['signals'],
  properties: {
    accepted: { type: 'integer' },
    duplicate: { type: 'integer' },
    rejected: { type: 'integer' },
    signals: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'status'],
        properties: {
          id: { type: ['string', 'null'] },
          status: { enum: ['accepted', 'duplicate', 'rejected'] },
          jobId: { type: 'string', description: 'accepted: the track-signal job.' },
          errors: { type: 'array', items: REASON_SCHEMA, description: 'rejected: every reason.' },
        },
      },
    },
  },
};

const SIGNAL_STATE_SCHEMA = {
  type: 'object',
  required: ['id', 'state'],
  additionalProperties: true,
  description:
    'The signal in SPEC.md\'s replay-line format (state pending, open, partial or closed, with its outcome), or state "rejected" with the reasons; and its history.',
  properties: {
    id: { type: 'string' },
    state: { enum: ['pending', 'open', 'partial', 'closed', 'rejected'] },
    history: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          at: { type: 'integer' },
          event: { type: 'string' },
          details: { type: ['object', 'null'], additionalProperties: true },
          recordedAt: { type: 'integer' },
        },
      },
    },
  },
};

const OPERATION_ACCEPTED_SCHEMA = {
  type: 'object',
  required: ['id', 'op', 'jobId'],
  properties: {
    id: { type: 'string' },
    op: { type: 'string' },
    jobId: { type: 'string' },
    ts: { type: 'integer' },
  },
};

/** `POST /v1/signals`, `GET /v1/signals/{id}` and the operations on a signal (docs/API.md). */
export function signalRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post(
    '/v1/signals',
    {
      config: { scope: 'submit' },
      bodyLimit: deps.bodyLimit,
      ...OWN_VALIDATION,
      schema: {
        tags: ['signals'],
        summary: 'Submit one signal, or a batch of up to 1000',
        description:
          'Each payload is checked as the track-signal queue checks it; valid ones are queued (job id `sig-` + sha256 of the id), invalid ones stored as rejected. Always 202, with each id and its status.',
        ...secured('submit'),
        body: {
          oneOf: [
            TRACK_SIGNAL_REF,
            {
              type: 'object',
              required: ['signals'],
              additionalProperties: false,
              properties: {
                signals: {
                  type: 'array',
                  minItems: 1,
                  maxItems: MAX_SIGNALS_PER_REQUEST,
                  items: TRACK_SIGNAL_REF,
                },
              },
            },
          ],
        },
        response: responses({ 202: SUBMISSION_SCHEMA }, 413, 415),
      },
    },
    async (request, reply) => {
      const body = request.body;
      const isBatch =
        typeof body === 'object' && body !== null && Array.isArray((body as { signals?: unknown }).signals);
      const payloads = isBatch ? (body as { signals: unknown[] }).signals : [body];
      if (payloads.length === 0) throw new HttpError('BAD_REQUEST', 'signals: the batch is empty');
      if (payloads.length > MAX_SIGNALS_PER_REQUEST) {
        throw new HttpError(
          'PAYLOAD_TOO_LARGE',
          `signals: ${payloads.length} signals, over the limit of ${MAX_SIGNALS_PER_REQUEST} a request`,
        );
      }
      const results = await submitSignals(deps, request.principal!, payloads);
      const count = (status: string) => results.filter((r) => r.status === status).length;
      return reply.code(202).send({
        accepted: count('accepted'),
        duplicate: count('duplicate'),
        rejected: count('rejected'),
        signals: results,
      });
    },
  );

  app.get(
    '/v1/signals/:id',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['signals'],
        summary: "A signal's live state or outcome, and its history",
        ...secured('read'),
        params: ID_PARAMS,
        querystring: { type: 'object', additionalProperties: false, properties: TENANT_QUERY },
        response: responses({ 200: SIGNAL_STATE_SCHEMA }, 404),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const tenant = tenantScope(request.principal!, (request.query as { tenant?: string }).tenant);
      const found = await findSignal(deps.pool, id);
      if (found === null || (tenant !== null && found.tenant !== tenant)) throw signalNotFound(id);
      const history = await readSignalHistory(deps.pool, id, tenant);
      if (found.status === 'rejected') return { id, state: 'rejected', errors: found.errors ?? [], history };
      // Redis before PostgreSQL, as export reads: a signal moves checkpoint → outbox →
      // PostgreSQL, so this order never misses one that moves meanwhile.
      const live = await readLive(deps, [{ id, symbol: found.symbol! }]);
      const stored = await readOutcomeLines(deps.pool, [id]);
      const line: OutcomeLine = stored.get(id) ?? live.get(id) ?? { id, state: 'pending', legs: [] };
      return { ...line, history };
    },
  );

  for (const op of ['exit', 'cancel', 'amend'] as const) {
    app.post(
      `/v1/signals/:id/${op}`,
      {
        config: { scope: 'submit' },
        bodyLimit: deps.bodyLimit,
        ...OWN_VALIDATION,
        schema: {
          tags: ['signals'],
          summary: `${op[0]!.toUpperCase()}${op.slice(1)} a live signal`,
          description:
            `The body is the ${op} operation of the signal-ops queue (docs/QUEUES.md) without \`op\` and \`id\` (taken from the path); ` +
            '`ts` defaults to the server clock. Checked as the queue checks it, then queued on signal-ops; ' +
            'the signal machine applies or rejects it on its shard (see GET /v1/signals/{id} history). ' +
            'To retry safely after an error or a lost answer, send an Idempotency-Key and send it again with the retry: ' +
            'the operation is applied once, and a retry of a queued one gets its first answer with `Idempotent-Replayed: true`.',
          ...secured('submit'),
          params: ID_PARAMS,
          headers: {
            type: 'object',
            properties: { 'idempotency-key': OPERATION_IDEMPOTENCY_KEY_HEADER },
          },
          ...(op === 'cancel' ? {} : { body: OPERATION_REFS[op] }),
          response: responses(
            { 202: { ...OPERATION_ACCEPTED_SCHEMA, headers: IDEMPOTENT_REPLAYED_HEADER } },
            404,
            409,
            413,
            415,
            422,
          ),
        },
      },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        const key = readIdempotencyKey(request.headers['idempotency-key']);
        const body = request.body ?? {};
        if (typeof body !== 'object' || Array.isArray(body))
          throw new HttpError('BAD_REQUEST', 'the body must be a JSON object');
        const given = body as Record<string, unknown>;
        for (const [field, value] of [
          ['op', op],
          ['id', id],
        ] as const) {
          if (given[field] !== undefined && given[field] !== value)
            throw new HttpError(
              'BAD_REQUEST',
              `${field}: ${JSON.stringify(given[field])} contradicts the path (${value})`,
            );
        }
        const once =
          key === null ? null : operationIdempotency(deps.redis, deps.prefix, request.principal!.tenant, key);
        const claim = once === null ? null : await once.claim({ op, id, body: given }, deps.now());
        if (claim?.action === 'replay')
          return reply
            .code(202)
            .header('Idempotent-Replayed', 'true')
            .send({ id, op, jobId: once!.jobId, ts: claim.ts });
        const operation = { ...given, op, id, ts: given.ts ?? claim?.ts ?? deps.now() };
        const checked = validateOperation(operation);
        const reasons = [
          ...(checked.ok ? [] : checked.errors),
          ...screenPayload(operation, deps.guards),
          ...(checked.ok ? [checkLiveTime('ts', checked.op.ts, deps.guards, deps.now())] : []).filter(
            (e) => e !== null,
          ),
        ];
        if (reasons.length > 0) {
          throw new HttpError('UNPROCESSABLE', reasons.map((r) => r.message).join('; '), reasons);
        }
        // A retry of a request whose operation went in (its answer lost): answered as queued, even
        // if the operation has since closed the signal.
        const earlier = once === null ? undefined : await Job.fromId(deps.queues.signalOps, once.jobId);
        if (earlier === undefined) await requireOperable(deps, request.principal!, id);
        const job =
          earlier ??
          (await deps.queues.signalOps.add(op, operation, once === null ? {} : { jobId: once.jobId }));
        await once?.queued(operation.ts as number);
        return reply.code(202).send({ id, op, jobId: job.id!, ts: operation.ts as number });
      },
    );
  }
}

function signalNotFound(id: string): HttpError {
  return new HttpError('SIGNAL_NOT_FOUND', `no signal ${JSON.stringify(id.slice(0, 100))} for this API key`);
}

/**
 * That the key's tenant has signal `id` open to operations: stored and not closed, or still on
 * its way through the track-signal queue (an operation sent right behind its signal waits for
 * it in the intake, OP_WAIT_FOR_SIGNAL_MS). Another tenant's signal is not found (404), a
 * closed one a conflict (409).
 */
async function requireOperable(deps: ApiDeps, principal: Principal, id: string): Promise<void> {
  const signal = await findAccepted(deps.pool, id);
  if (signal !== null) {
    if (!principal.admin && signal.tenant !== principal.tenant) throw signalNotFound(id);
    if (signal.closed) {
      const reason = trackerError('SIGNAL_CLOSED', `signal ${id.slice(0, 100)} is already closed`);
      throw new HttpError('CONFLICT', reason.message, [reason]);
    }
    return;
  }
  const job = await Job.fromId(deps.queues.trackSignal, signalJobId(id));
  const data = job?.data as { tenant?: unknown } | undefined;
  if (job === undefined || (!principal.admin && data?.tenant !== principal.tenant)) throw signalNotFound(id);
  const state = await job.getState();
  if (state === 'failed' || state === 'unknown') throw signalNotFound(id);
}
