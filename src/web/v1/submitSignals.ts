import type { Queue } from 'bullmq';
import type { TrackerError } from '../../errors.ts';
import { signalJobId } from '../../names.ts';
import type { RedisClient } from '../../RedisClient.ts';
import { findAcceptedIds } from '../../storage/findAcceptedIds.ts';
import { recordRejected } from '../../storage/recordRejected.ts';
import { checkSignal } from '../../validation/checkSignal.ts';
import type { Principal } from '../createKeyLookup.ts';
import { HttpError } from '../httpErrors.ts';
import type { ApiDeps } from './ApiDeps.ts';

/** What became of one submitted payload. */
export type SubmissionResult =
  | { id: string; status: 'accepted'; jobId: string }
  | { id: string; status: 'duplicate' }
  | { id: string | null; status: 'rejected'; errors: TrackerError[] };

/** The most signals one request may carry. */
export const MAX_SIGNALS_PER_REQUEST = 1000;

/** The `data` of each job hash in KEYS (nil where there is none). */
const JOB_DATA_LUA = `
local out = {}
for i = 1, #KEYS do out[i] = redis.call('HGET', KEYS[i], 'data') end
return out`;

/**
 * Of these signals, the ids whose `track-signal` job is already queued with another tenant's
 * signal. Ids are global (docs/API.md): without this, the job id being derived from the id
 * alone, BullMQ would keep the other tenant's job and drop this one while the answer said
 * `accepted`. One script reads the jobs' data: one command and one reply for the whole batch.
 */
async function queuedForOthers(
  redis: RedisClient,
  queue: Queue,
  signals: readonly { id: string; tenant: string }[],
): Promise<Set<string>> {
  const taken = new Set<string>();
  if (signals.length === 0) return taken;
  // The jobs' hashes are BullMQ's (`<prefix>:<queue>:<job id>`, one slot on a cluster).
  const keys = signals.map((s) => queue.toKey(signalJobId(s.id)));
  const found = (await redis.eval(JOB_DATA_LUA, keys.length, ...keys)) as (string | null)[];
  signals.forEach((s, i) => {
    const data = found[i];
    if (typeof data !== 'string') return;
    let tenant: unknown;
    try {
      tenant = (JSON.parse(data) as { tenant?: unknown } | null)?.tenant;
    } catch {
      return; // not JSON (a foreign producer's job): the intake rejects it, it takes no id
    }
    if ((tenant ?? 'default') !== s.tenant) taken.add(s.id);
  });
  return taken;
}

/**
 * `POST /v1/signals`: decides each payload with the live intake's own checks (checkSignal),
 * then
 * - rejected: stored as the intake stores a rejection (recordRejected), answered with the reasons;
 * - an id with an accepted row, queued by another tenant, or repeated earlier in the batch:
 *   `duplicate`, nothing queued;
 * - otherwise queued on `track-signal` with job id `sig-<sha256(id)>` (docs/QUEUES.md): the
 *   intake worker stores it and registers it on its shard exactly as a queue producer's. A
 *   resubmission while the first job is still in the queue is dropped by BullMQ (same job id).
 *
 * Tenancy: a payload without `tenant` takes the key's; one naming another tenant refuses the
 * whole request (403 TENANT_FORBIDDEN) before anything is stored, unless the key is admin.
 */
export async function submitSignals(
  deps: Pick<ApiDeps, 'pool' | 'redis' | 'guards' | 'queues' | 'now' | 'onRejected'>,
  principal: Principal,
  payloads: readonly unknown[],
): Promise<SubmissionResult[]> {
  const foreign: { index: number; tenant: unknown }[] = [];
  const owned = payloads.map((payload, index) => {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return payload;
    const tenant = (payload as { tenant?: unknown }).tenant;
    if (tenant === undefined) return { ...payload, tenant: principal.tenant };
    if (!principal.admin && tenant !== principal.tenant) foreign.push({ index, tenant });
    return payload;
  });
  if (foreign.length > 0) {
    throw new HttpError(
      'TENANT_FORBIDDEN',
      `this API key belongs to tenant ${principal.tenant}; ${foreign.length} payload(s) name another`,
      foreign.slice(0, 100).map((f) => ({ index: f.index, tenant: f.tenant })),
    );
  }

  const wallNow = deps.now();
  const checks = owned.map((payload) => checkSignal(payload, deps.guards, wallNow));
  const validIds = checks.flatMap((c) => (c.ok ? [c.signal.id] : []));
  const accepted = await findAcceptedIds(deps.pool, validIds);
  const taken = await queuedForOthers(
    deps.redis,
    deps.queues.trackSignal,
    checks.flatMap((c) => (c.ok && !accepted.has(c.signal.id) ? [c.signal] : [])),
  );

  const results: SubmissionResult[] = [];
  const jobs: { name: string; data: unknown; opts: { jobId: string } }[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < checks.length; i++) {
    const check = checks[i]!;
    if (!check.ok) {
      // No job carried it: job_id stays null. Stored one by one: rejections are the rare case.
      await recordRejected(deps.pool, owned[i], check.id, check.errors, null);
      if (check.errors[0] !== undefined) deps.onRejected?.(check.errors[0].code);
      results.push({ id: check.id, status: 'rejected', errors: check.errors });
      continue;
    }
    const id = check.signal.id;
    if (accepted.has(id) || taken.has(id) || seen.has(id)) {
      results.push({ id, status: 'duplicate' });
      continue;
    }
    seen.add(id);
    const jobId = signalJobId(id);
    jobs.push({ name: 'signal', data: owned[i], opts: { jobId } });
    results.push({ id, status: 'accepted', jobId });
  }
  if (jobs.length > 0) await deps.queues.trackSignal.addBulk(jobs);
  return results;
}
