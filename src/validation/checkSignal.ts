import type { NormalizedSignal } from '../../machines/signalContext.ts';
import type { TrackerError } from '../errors.ts';
import { checkLiveTime, screenPayload, type LiveGuards } from './screenPayload.ts';
import { validateSignal } from './validateSignal.ts';

/** A live submission's verdict: the signal to track, or every reason it is refused. */
export type SignalCheck =
  { ok: true; signal: NormalizedSignal } | { ok: false; id: string | null; errors: TrackerError[] };

/**
 * Every check of the live intake on a `track-signal` payload (docs/QUEUES.md): the schema and
 * SPEC's cross-field rules (validateSignal), then the live-only guards (storable content,
 * MAX_PAYLOAD_BYTES, MIN_EPOCH_MS, MAX_CLOCK_SKEW_MS). The queue's worker and `POST /v1/signals`
 * both decide with this, so a payload gets the same verdict and the same reasons either way.
 */
export function checkSignal(payload: unknown, guards: LiveGuards, wallNow: number): SignalCheck {
  const checked = validateSignal(payload);
  const errors: TrackerError[] = [
    ...(checked.ok ? [] : checked.errors),
    ...screenPayload(payload, guards),
    ...(checked.ok ? [checkLiveTime('createdAt', checked.signal.createdAt, guards, wallNow)] : []).filter(
      (e) => e !== null,
    ),
  ];
  if (checked.ok && errors.length === 0) return checked;
  return { ok: false, id: checked.ok ? checked.signal.id : checked.id, errors };
}
