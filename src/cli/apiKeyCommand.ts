/**
 * `outcome-tracker api-key create|list|revoke`: the API keys of the HTTP API (docs/API.md),
 * straight in DATABASE_URL. A created key is printed once and never again: only its SHA-256 is
 * stored.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig, requireSettings } from '../config.ts';
import { insertApiKey } from '../storage/insertApiKey.ts';
import { listApiKeys, type ApiKeyInfo } from '../storage/listApiKeys.ts';
import { revokeApiKey } from '../storage/revokeApiKey.ts';
import { SCOPES, type Scope } from '../names.ts';
import { createApiKey, isScope } from '../web/apiKey.ts';
import type { CliIo } from './CliIo.ts';
import { InputError } from './inputError.ts';
import { connectPostgres } from './connectPostgres.ts';
import { serviceError } from './serviceError.ts';
import { UsageError } from './usageError.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Runs `api-key`; returns the exit code (bad arguments throw a UsageError: exit 2). */
export async function apiKeyCommand(
  args: string[],
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const [action, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      tenant: { type: 'string' },
      scopes: { type: 'string' },
      label: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  // Every argument is checked before a connection is opened.
  let run: (db: pg.Client) => Promise<void>;
  switch (action) {
    case 'create': {
      noPositionals('create', positionals);
      if (values.tenant === undefined || values.tenant === '') throw new UsageError('create needs --tenant');
      if (values.tenant.length > 128) throw new UsageError('--tenant must be at most 128 characters');
      const scopes = parseScopes(values.scopes);
      const tenant = values.tenant;
      const label = values.label ?? null;
      run = async (db) => {
        const { key, hash } = createApiKey();
        const { id } = await insertApiKey(db, { tenant, scopes, hash, label });
        io.stdout.write(
          values.json
            ? JSON.stringify({ id, key, tenant, scopes }) + '\n'
            : `api-key: created ${id} for tenant ${tenant} (${scopes.join(', ')})\n` +
                `${key}\n` +
                'This key is shown once: only its SHA-256 is stored. Keep it in a secret store.\n',
        );
      };
      break;
    }
    case 'list': {
      noPositionals('list', positionals);
      if (values.scopes !== undefined || values.label !== undefined)
        throw new UsageError('list takes only --tenant and --json');
      const tenant = values.tenant;
      run = async (db) => {
        const keys = await listApiKeys(db, tenant);
        if (values.json) {
          for (const k of keys) io.stdout.write(JSON.stringify(jsonInfo(k)) + '\n');
        } else if (keys.length === 0) {
          io.stdout.write('api-key: no keys\n');
        } else {
          for (const k of keys) io.stdout.write(textInfo(k) + '\n');
        }
      };
      break;
    }
    case 'revoke': {
      if (positionals.length !== 1) throw new UsageError('revoke takes exactly one key id');
      if (values.tenant !== undefined || values.scopes !== undefined || values.label !== undefined)
        throw new UsageError('revoke takes only the key id');
      const id = positionals[0]!;
      if (!UUID.test(id)) throw new UsageError(`"${id}" is not a key id (a UUID, as api-key list shows)`);
      run = async (db) => {
        const revoked = await revokeApiKey(db, id);
        if (revoked === null) throw new InputError(`no API key has the id ${id}`);
        const at = new Date(revoked.revokedAt).toISOString();
        io.stdout.write(
          values.json
            ? JSON.stringify({ id, revokedAt: at }) + '\n'
            : `api-key: ${id} ${revoked.already ? 'was already revoked' : 'revoked'} at ${at}\n`,
        );
      };
      break;
    }
    default:
      throw new UsageError(
        action === undefined ? 'which action: create, list or revoke?' : `unknown action "${action}"`,
      );
  }

  const config = requireSettings(loadConfig(env), 'DATABASE_URL');
  const db = await connectPostgres(config.DATABASE_URL, 'api-key');
  try {
    await run(db);
  } catch (err) {
    if ((err as { code?: string }).code === '42P01')
      throw serviceError('PostgreSQL', config.DATABASE_URL, 'no api_keys table: run outcome-tracker migrate');
    throw err;
  } finally {
    await db.end().catch(() => {});
  }
  return 0;
}

function noPositionals(action: string, positionals: string[]): void {
  if (positionals.length > 0)
    throw new UsageError(`${action} takes no arguments, got ${positionals.join(' ')}`);
}

/** `--scopes submit,read`: at least one, each known, each once. */
function parseScopes(text: string | undefined): Scope[] {
  if (text === undefined || text.trim() === '')
    throw new UsageError(`create needs --scopes (${SCOPES.join(', ')})`);
  const scopes: Scope[] = [];
  for (const part of text.split(',').map((s) => s.trim())) {
    if (!isScope(part)) throw new UsageError(`unknown scope "${part}" (scopes: ${SCOPES.join(', ')})`);
    if (!scopes.includes(part)) scopes.push(part);
  }
  return scopes;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function jsonInfo(k: ApiKeyInfo): object {
  return {
    id: k.id,
    tenant: k.tenant,
    scopes: k.scopes,
    label: k.label,
    createdAt: iso(k.createdAt),
    lastUsedAt: iso(k.lastUsedAt),
    revokedAt: iso(k.revokedAt),
  };
}

function textInfo(k: ApiKeyInfo): string {
  return [
    k.id,
    k.tenant,
    k.scopes.join(','),
    k.revokedAt === null ? 'active' : `revoked ${iso(k.revokedAt)}`,
    `last used ${iso(k.lastUsedAt) ?? 'never'}`,
    k.label === null ? '' : JSON.stringify(k.label),
  ]
    .filter((s) => s !== '')
    .join('  ');
}
