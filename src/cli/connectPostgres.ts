import pg from 'pg';
import { serviceError } from './serviceError.ts';

/**
 * A PostgreSQL client for a command line, connected: it fails rather than waits (five seconds to
 * connect). A failure is a ServiceError naming PostgreSQL and its host (never the password).
 * The connection's later errors surface through the queries, not as an unhandled 'error'.
 */
export async function connectPostgres(url: string, role: string): Promise<pg.Client> {
  const db = new pg.Client({
    connectionString: url,
    application_name: `outcome-tracker ${role}`,
    connectionTimeoutMillis: 5000,
  });
  db.on('error', () => {});
  try {
    await db.connect();
  } catch (err) {
    await db.end().catch(() => {});
    throw serviceError('PostgreSQL', url, err, 'cannot reach');
  }
  return db;
}
