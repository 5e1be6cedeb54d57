/** What the Redis server reports of its own work: CPU time and per-command statistics. */
import type { Redis } from 'ioredis';

/** Redis's own CPU seconds so far (INFO cpu). */
export async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (k: string): number => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return (get('used_cpu_user') + get('used_cpu_sys')) * 1000;
}

/** Redis INFO commandstats as command → [calls, usec]. */
export async function commandStats(redis: Redis): Promise<Map<string, [number, number]>> {
  const out = new Map<string, [number, number]>();
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (m) out.set(m[1]!, [Number(m[2]), Number(m[3])]);
  }
  return out;
}

/** The commands that took the most Redis time between two `commandStats` readings. */
export function statsDelta(a: Map<string, [number, number]>, b: Map<string, [number, number]>): string {
  const rows = [...b]
    .map(
      ([cmd, [calls, usec]]) => [cmd, calls - (a.get(cmd)?.[0] ?? 0), usec - (a.get(cmd)?.[1] ?? 0)] as const,
    )
    .filter(([, calls]) => calls > 0)
    .sort((x, y) => y[2] - x[2])
    .slice(0, 8);
  return rows.map(([cmd, calls, usec]) => `${cmd} ${calls} calls ${(usec / 1000).toFixed(0)} ms`).join(', ');
}

/**
 * Redis's AOF rewrites so far (INFO persistence): how many (null before Redis 7, which does not
 * count them), and whether one is running now.
 */
export async function aofRewrites(redis: Redis): Promise<{ count: number | null; running: boolean }> {
  const info = await redis.info('persistence');
  const get = (k: string): string | undefined => new RegExp(`${k}:(\\d+)`).exec(info)?.[1];
  const count = get('aof_rewrites');
  return {
    count: count === undefined ? null : Number(count),
    running: get('aof_rewrite_in_progress') === '1',
  };
}
