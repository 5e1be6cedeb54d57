import type { Scope } from '../../src/names.ts';
import { createApiKey } from '../../src/web/apiKey.ts';
import type { Queryable } from '../../src/storage/Queryable.ts';
import { insertApiKey } from '../../src/storage/insertApiKey.ts';

/** A stored API key for tests: the plain key (to present) and its id. */
export async function createTestKey(
  db: Queryable,
  tenant: string,
  scopes: Scope[],
): Promise<{ id: string; key: string; bearer: { authorization: string }; basic: { authorization: string } }> {
  const { key, hash } = createApiKey();
  const { id } = await insertApiKey(db, { tenant, scopes, hash, label: 'test' });
  return {
    id,
    key,
    bearer: { authorization: `Bearer ${key}` },
    basic: { authorization: `Basic ${Buffer.from(`anyone:${key}`).toString('base64')}` },
  };
}

/** The front door wide open but for keys: every host, no rate limit, no key cache. */
export const OPEN_ACCESS = {
  allowedHosts: '*',
  listenHost: '127.0.0.1',
  rateLimitPerMinute: 0,
  keyCacheMs: 0,
};
