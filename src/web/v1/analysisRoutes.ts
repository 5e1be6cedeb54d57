import type { FastifyInstance } from 'fastify';
import { GROUP_KINDS, type GroupKind } from '../../analysis/groups.ts';
import { SEVERITIES, type Severity } from '../../analysis/rules/ruleTypes.ts';
import { WINDOW_NAMES, type WindowName } from '../../analysis/windows.ts';
import { enqueueAnalyze } from '../../analyzer/scheduleAnalyze.ts';
import { queryInsights } from '../../storage/queryInsights.ts';
import { queryMetrics } from '../../storage/queryMetrics.ts';
import { HttpError } from '../httpErrors.ts';
import { tenantScope } from '../tenantScope.ts';
import type { ApiDeps } from './ApiDeps.ts';
import { responses, secured, TENANT_QUERY } from './apiSchemas.ts';

const ROWS = { type: 'array', items: { type: 'object', additionalProperties: true } };

/** `GET /v1/metrics`, `GET /v1/insights` and `POST /v1/analyze` (docs/API.md, METRICS.md, INSIGHTS.md). */
export function analysisRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    '/v1/metrics',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['analysis'],
        summary:
          "The analyzer's metrics of a window and group kind (latest window end per group, or its history)",
        ...secured('read'),
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...TENANT_QUERY,
            window: { enum: [...WINDOW_NAMES], default: '7d' },
            groupKind: { enum: [...GROUP_KINDS], default: 'all' },
            groupKey: { type: 'string', description: 'One group (e.g. the strategy name).' },
            history: { type: 'boolean', default: false, description: 'Every window end, newest first.' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 1000 },
          },
        },
        response: responses({
          200: { type: 'object', required: ['metrics'], properties: { metrics: ROWS } },
        }),
      },
    },
    async (request) => {
      const q = request.query as {
        tenant?: string;
        window: WindowName;
        groupKind: GroupKind;
        groupKey?: string;
        history: boolean;
        limit: number;
      };
      const metrics = await queryMetrics(deps.pool, {
        tenant: tenantScope(request.principal!, q.tenant),
        window: q.window,
        groupKind: q.groupKind,
        ...(q.groupKey === undefined ? {} : { groupKey: q.groupKey }),
        history: q.history,
        limit: q.limit,
      });
      return { metrics };
    },
  );

  app.get(
    '/v1/insights',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['analysis'],
        summary: "What the analyzer's rules found, newest first",
        ...secured('read'),
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...TENANT_QUERY,
            severity: { enum: [...SEVERITIES], default: 'info', description: 'This severity and above.' },
            since: { type: 'string', description: 'Raised at or after: epoch ms or ISO 8601.' },
            window: { enum: [...WINDOW_NAMES] },
            groupKind: { enum: [...GROUP_KINDS] },
            groupKey: { type: 'string' },
            rule: { type: 'string' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        },
        response: responses({
          200: { type: 'object', required: ['insights'], properties: { insights: ROWS } },
        }),
      },
    },
    async (request) => {
      const q = request.query as {
        tenant?: string;
        severity: Severity;
        since?: string;
        window?: string;
        groupKind?: string;
        groupKey?: string;
        rule?: string;
        limit: number;
      };
      let since: number | undefined;
      if (q.since !== undefined) {
        since = /^\d+$/.test(q.since) ? Number(q.since) : Date.parse(q.since);
        if (!Number.isSafeInteger(since)) {
          const message = `querystring.since: ${JSON.stringify(q.since)} is neither epoch ms nor an ISO 8601 time`;
          throw new HttpError('VALIDATION_FAILED', message, [{ code: 'PAYLOAD_SCHEMA', message }]);
        }
      }
      const insights = await queryInsights(deps.pool, {
        tenant: tenantScope(request.principal!, q.tenant),
        minSeverity: q.severity,
        ...(since === undefined ? {} : { since }),
        ...(q.window === undefined ? {} : { window: q.window }),
        ...(q.groupKind === undefined ? {} : { groupKind: q.groupKind }),
        ...(q.groupKey === undefined ? {} : { groupKey: q.groupKey }),
        ...(q.rule === undefined ? {} : { rule: q.rule }),
        limit: q.limit,
      });
      return { insights };
    },
  );

  app.post(
    '/v1/analyze',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['analysis'],
        summary: 'Run the analyzer now (every tenant), as the scheduler does',
        description:
          'Adds the analyze jobs of this second (job ids `analyze-<window>-<groupKind>-<time>`, as the scheduler names them): asking twice in one second adds them once.',
        ...secured('admin'),
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: {
            window: { enum: [...WINDOW_NAMES], description: 'Default: every window.' },
            groupKind: { enum: [...GROUP_KINDS], description: 'Default: every group kind.' },
          },
        },
        response: responses(
          {
            202: {
              type: 'object',
              required: ['jobIds'],
              properties: { jobIds: { type: 'array', items: { type: 'string' } } },
            },
          },
          413,
          415,
        ),
      },
    },
    async (request, reply) => {
      const body = (request.body ?? {}) as { window?: WindowName; groupKind?: GroupKind };
      const jobIds = await enqueueAnalyze({
        queue: deps.queues.analyze,
        slot: new Date(deps.now()),
        ...(body.window === undefined ? {} : { windows: [body.window] }),
        ...(body.groupKind === undefined ? {} : { groupKinds: [body.groupKind] }),
      });
      return reply.code(202).send({ jobIds });
    },
  );
}
