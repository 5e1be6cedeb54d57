import cron, { type ScheduledTask } from 'node-cron';
import { afterEach, describe, expect, it } from 'vitest';
import { ANALYZE_CATCH_UP_MS, missedSlots } from '../../src/analyzer/scheduleAnalyze.ts';

const tasks: ScheduledTask[] = [];
/** A task that is never started: only its expression is used. */
function taskOf(expression: string): ScheduledTask {
  const task = cron.createTask(expression, () => {}, { timezone: 'Etc/UTC' });
  tasks.push(task);
  return task;
}
afterEach(async () => {
  for (const task of tasks.splice(0)) await task.destroy();
});

const NOW = Date.parse('2025-11-24T12:02:30Z');
const MIN = 60_000;

describe('missedSlots', () => {
  it('lists the slots after the last one enqueued, up to now, oldest first', () => {
    expect(missedSlots(taskOf('*/5 * * * *'), Date.parse('2025-11-24T11:45:00Z'), NOW)).toEqual(
      ['11:50', '11:55', '12:00'].map((t) => Date.parse(`2025-11-24T${t}:00Z`)),
    );
  });

  it('lists nothing when the last slot enqueued is the latest', () => {
    expect(missedSlots(taskOf('*/5 * * * *'), Date.parse('2025-11-24T12:00:00Z'), NOW)).toEqual([]);
    expect(missedSlots(taskOf('*/5 * * * *'), NOW + MIN, NOW)).toEqual([]);
  });

  it('looks back a day at most when the scheduler was away longer', () => {
    const slots = missedSlots(taskOf('*/5 * * * *'), NOW - 3 * 86_400_000, NOW);

    expect(slots).toHaveLength(288);
    expect(slots[0]).toBe(Date.parse('2025-11-23T12:05:00Z'));
    expect(slots.at(-1)).toBe(Date.parse('2025-11-24T12:00:00Z'));
    const hourly = missedSlots(taskOf('0 * * * *'), NOW - 3 * 86_400_000, NOW);
    expect(hourly).toHaveLength(24);
    expect(hourly[0]).toBeGreaterThan(NOW - ANALYZE_CATCH_UP_MS);
  });

  it('steps by the second when the expression has seconds', () => {
    expect(missedSlots(taskOf('*/20 * * * * *'), NOW - MIN, NOW)).toEqual(
      [-50, -30, -10].map((s) => NOW + s * 1000),
    );
  });
});
