import { Counter, type Registry } from 'prom-client';

/** The scheduler's schedules, as the `schedule` label. */
export type ScheduleName = 'sweep' | 'analyze';

/**
 * The scheduler process's metrics (docs/OPERATIONS.md "Metrics"): each run of a schedule,
 * enqueued or failed. Returns the `onRun` callback of a schedule.
 */
export function createSchedulerMetrics(
  registry: Registry,
): (schedule: ScheduleName) => (ok: boolean) => void {
  const runs = new Counter({
    name: 'outcome_tracker_schedule_runs_total',
    help: 'Runs of the scheduler’s schedules (sweep, analyze): ok (jobs enqueued) or failed (Redis unreachable).',
    labelNames: ['schedule', 'result'],
    registers: [registry],
  });
  return (schedule) => {
    runs.inc({ schedule, result: 'ok' }, 0);
    runs.inc({ schedule, result: 'failed' }, 0);
    return (ok) => runs.inc({ schedule, result: ok ? 'ok' : 'failed' });
  };
}
