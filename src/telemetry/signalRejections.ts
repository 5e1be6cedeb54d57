import { Counter, type Registry } from 'prom-client';

/**
 * `outcome_tracker_signals_rejected_total{source, code}`: signals stored as rejected, each once,
 * under its first error's code (docs/ERRORS.md); `source` is `queue` (the worker's track-signal
 * intake) or `http` (the web process's `POST /v1/signals`, which rejects before queueing).
 */
export function signalRejections(registry: Registry, source: 'queue' | 'http'): (code: string) => void {
  const counter = new Counter({
    name: 'outcome_tracker_signals_rejected_total',
    help: 'Signals stored as rejected (a resubmitted id: DUPLICATE_ID), by where they came in (queue, http) and first error code.',
    labelNames: ['source', 'code'],
    registers: [registry],
  });
  return (code) => counter.inc({ source, code });
}
