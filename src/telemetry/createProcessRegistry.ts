import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { version } from '../version.ts';

/** prom-client's default metrics that `promtool check metrics` refuses. */
const UNLINTED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** The Procfile's processes, as the `process` label of `outcome_tracker_build_info`. */
export type ProcessRole = 'web' | 'worker' | 'flusher' | 'scheduler';

/**
 * A process's Prometheus registry (docs/OPERATIONS.md "Metrics"): prom-client's default process
 * metrics (`process_*`, `nodejs_*`) and `outcome_tracker_build_info`. A registry of its own
 * rather than prom-client's global one, so that several wirings in one process (tests) do not
 * collide; each wiring adds its metrics to it.
 */
export function createProcessRegistry(role: ProcessRole): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges named like counters (promtool check metrics refuses them); their totals are the
  // sums of `nodejs_active_handles`, `_requests` and `_resources` over their `type` label.
  for (const name of UNLINTED_DEFAULTS) registry.removeSingleMetric(name);
  const info = new Gauge({
    name: 'outcome_tracker_build_info',
    help: 'Always 1: the version of outcome-tracker and which process this is.',
    labelNames: ['version', 'process'],
    registers: [registry],
  });
  info.set({ version: version(), process: role }, 1);
  return registry;
}
