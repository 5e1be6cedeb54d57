import { loadConfig, requireSettings, retentionOf } from '../config.ts';
import { createLogger } from '../processes/bootstrap.ts';
import { migrate } from '../storage/migrate.ts';
import { isRetryablePgError } from '../storage/retryablePg.ts';
import type { CliIo } from './CliIo.ts';
import { serviceError } from './serviceError.ts';

/** `migrate`: applies the SQL migrations to DATABASE_URL (safe while other processes do too). */
export async function migrateCommand(_args: string[], io: CliIo): Promise<number> {
  const config = requireSettings(loadConfig(), 'DATABASE_URL');
  const applied = await migrate({
    databaseUrl: config.DATABASE_URL,
    log: createLogger(config, 'migrate'),
    retention: retentionOf(config),
  }).catch((err: unknown) => {
    // Fails fast and says where, as the other commands do; a migration's own error passes as it is.
    throw isRetryablePgError(err)
      ? serviceError('PostgreSQL', config.DATABASE_URL, err, 'cannot reach')
      : err;
  });
  io.stdout.write(
    applied.length === 0 ? 'migrate: up to date\n' : `migrate: applied ${applied.join(', ')}\n`,
  );
  return 0;
}
