import type pg from 'pg';
import { isRetryablePgError } from './retryablePg.ts';

/**
 * Runs `fn` in one transaction on a client of `pool`. The client listens for errors while it
 * is out of the pool (a connection that dies between two statements would otherwise emit an
 * unhandled 'error' and end the process), and a client that failed is destroyed, not reused.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  /** The statement that opens it, e.g. with an isolation level. */
  begin = 'BEGIN',
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error): void => {
    broken = err;
  };
  client.on('error', onError);
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    if (isRetryablePgError(err)) broken ??= err as Error;
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
