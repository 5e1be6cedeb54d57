import type { Logger } from 'pino';
import { findApiKey } from '../storage/findApiKey.ts';
import type { Queryable } from '../storage/Queryable.ts';
import { touchApiKey } from '../storage/touchApiKey.ts';
import type { Scope } from '../names.ts';
import { hashApiKey, looksLikeApiKey, sameHash } from './apiKey.ts';

/** Who is making a request: what its API key says. */
export interface Principal {
  keyId: string;
  tenant: string;
  scopes: Scope[];
  /** The key has `admin`: every scope, every tenant. */
  admin: boolean;
}

export interface KeyLookupOptions {
  db: Queryable;
  log: Logger;
  /** How long a lookup (found, unknown or revoked) is reused: revocation takes effect within it. */
  cacheMs: number;
  /** `last_used_at` is written at most once per this interval per key. @defaultValue 60000 */
  touchIntervalMs?: number;
  /** Most lookups cached at once (the oldest go first). @defaultValue 10000 */
  maxEntries?: number;
  /** The wall clock (injected: only process wiring reads Date.now). */
  now: () => number;
}

/** The principal of a presented key, or null when it is not a valid, unrevoked key of ours. */
export type KeyLookup = (key: string) => Promise<Principal | null>;

/**
 * Resolves API keys to principals, with a small in-process cache so that a request costs no
 * query most of the time. A revoked key keeps working for at most `cacheMs` in each web
 * process that saw it just before (docs/API.md "Authentication"). Unknown keys are cached
 * too, so a client retrying a bad key does not query on every request; the cache is bounded,
 * and random guesses are rate-limited by IP before they reach it.
 *
 * `last_used_at` is written at most once per `touchIntervalMs` per key, after the answer, in
 * the background (a failure is logged and costs the request nothing).
 */
export function createKeyLookup(opts: KeyLookupOptions): KeyLookup {
  const now = opts.now;
  const touchIntervalMs = opts.touchIntervalMs ?? 60_000;
  const maxEntries = opts.maxEntries ?? 10_000;
  // By hash, hex: the key itself is kept nowhere, not even in memory beyond the request.
  const cache = new Map<string, { principal: Principal | null; until: number }>();
  const lastTouched = new Map<string, number>();

  const touch = (id: string, lastUsedAt: number | null): void => {
    const t = now();
    const last = Math.max(lastTouched.get(id) ?? -Infinity, lastUsedAt ?? -Infinity);
    if (t - last < touchIntervalMs) return;
    lastTouched.set(id, t);
    touchApiKey(opts.db, id, t, touchIntervalMs).catch((err: unknown) =>
      opts.log.warn({ err, keyId: id }, 'could not record when an API key was last used'),
    );
  };

  return async (key) => {
    if (!looksLikeApiKey(key)) return null;
    const hash = hashApiKey(key);
    const cacheKey = hash.toString('hex');
    const cached = cache.get(cacheKey);
    if (cached !== undefined && cached.until > now()) {
      if (cached.principal !== null) touch(cached.principal.keyId, null);
      return cached.principal;
    }
    const row = await findApiKey(opts.db, hash);
    const principal =
      row === null || row.revoked || !sameHash(row.hash, hash)
        ? null
        : { keyId: row.id, tenant: row.tenant, scopes: row.scopes, admin: row.scopes.includes('admin') };
    if (opts.cacheMs > 0) {
      cache.delete(cacheKey);
      cache.set(cacheKey, { principal, until: now() + opts.cacheMs });
      if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
    }
    if (principal !== null) touch(principal.keyId, row!.lastUsedAt);
    return principal;
  };
}
