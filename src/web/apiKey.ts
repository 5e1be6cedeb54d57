import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SCOPES, type Scope } from '../names.ts';

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** Whether a key holding `scopes` may use a route that needs `needed`. */
export function grants(scopes: readonly Scope[], needed: Scope): boolean {
  return scopes.includes('admin') || scopes.includes(needed);
}

/** Every key starts with this, so that one pasted into the wrong place (or a log) is recognisable. */
export const API_KEY_PREFIX = 'otk_';

/** Random bytes behind a key: 256 bits, beyond guessing. */
const KEY_BYTES = 32;

/** `otk_` and 43 base64url characters: the whole shape of a key (anything else is not one). */
const KEY_PATTERN = /^otk_[A-Za-z0-9_-]{43}$/;

/** A new key, to show once, and the hash to store in its place. */
export function createApiKey(): { key: string; hash: Buffer } {
  const key = API_KEY_PREFIX + randomBytes(KEY_BYTES).toString('base64url');
  return { key, hash: hashApiKey(key) };
}

/** Whether `text` has the shape of a key (cheap, before any hashing or lookup). */
export function looksLikeApiKey(text: string): boolean {
  return KEY_PATTERN.test(text);
}

/**
 * The stored form of a key: its SHA-256. A fast hash is right here, unlike for passwords: a
 * key is 256 random bits, so there is no dictionary to try and a brute force over the hash is
 * as hopeless as over the key, while a slow hash (bcrypt, scrypt) would cost every request
 * tens of milliseconds of CPU. A stolen table still yields no usable key.
 */
export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * Whether two hashes are equal, in time independent of where they differ. The lookup finds a
 * row by its hash already; comparing again in constant time means no code path ever compares
 * key material with an early-exit `===`.
 */
export function sameHash(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
