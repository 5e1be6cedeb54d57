/**
 * What PostgreSQL cannot store, found before it refuses it. A payload can pass SPEC's
 * validation and still be unstorable: `text` and `jsonb` hold no NUL character, JSON text with
 * an unpaired UTF-16 surrogate is not valid Unicode, and very deep nesting overflows the stack
 * of whoever walks it. The live intake refuses such payloads with their reasons and stores a
 * {@link storableJson} form of them; replay, which stores nothing, does not apply this check.
 */

/** Nesting deeper than this is refused (and cut off in the stored form). */
export const MAX_NESTING = 32;

/** At most this many problems are listed; the rest are counted. */
const MAX_PROBLEMS = 10;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** What {@link sanitizeText} writes out: NUL (built from a string: a literal one trips the linter) and lone surrogates. */
const UNSTORABLE = new RegExp(`${String.fromCharCode(0)}|${LONE_SURROGATE.source}`, 'g');

/** Why `text` cannot be stored as it is, or null. */
function textProblem(text: string): string | null {
  if (text.includes('\u0000')) return 'contains a NUL character (U+0000), which PostgreSQL cannot store';
  if (LONE_SURROGATE.test(text)) return 'contains an unpaired UTF-16 surrogate (not valid Unicode)';
  return null;
}

function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  const name = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(abbreviate(key, 40));
  return path === '' ? name : `${path}.${name}`;
}

/**
 * Every reason `payload` cannot be stored as given, each naming its field (`meta.notes`,
 * `id`). Walks with an explicit stack, so a payload nested 100,000 deep is measured, not
 * recursed into.
 */
export function checkStorable(payload: unknown): string[] {
  const problems: string[] = [];
  let more = 0;
  const note = (p: string): void => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
    else more++;
  };
  const stack: { value: unknown; path: string; depth: number; badKey?: string }[] = [
    { value: payload, path: '', depth: 0 },
  ];
  while (stack.length > 0) {
    const { value, path, depth, badKey } = stack.pop()!;
    const where = path === '' ? 'payload' : path;
    if (badKey !== undefined) note(`${where}: the field name ${badKey}`);
    if (typeof value === 'string') {
      const p = textProblem(value);
      if (p !== null) note(`${where}: ${p}`);
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_NESTING) {
      note(`${where}: nested more than ${MAX_NESTING} levels deep`);
      continue;
    }
    const entries: [string | number, unknown][] = Array.isArray(value)
      ? value.map((v, i) => [i, v])
      : Object.entries(value);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, v] = entries[i]!;
      const badKey = typeof key === 'string' ? (textProblem(key) ?? undefined) : undefined;
      stack.push({ value: v, path: childPath(path, key), depth: depth + 1, ...(badKey && { badKey }) });
    }
  }
  if (more > 0) problems.push(`… and ${more} more of the same kinds`);
  return problems;
}

/**
 * `payload` in a form `jsonb` always accepts, for storing a rejected submission with its
 * reasons: NUL and unpaired surrogates written out as `\u0000`-style text, nesting beyond
 * {@link MAX_NESTING} replaced by a note, and a payload whose JSON is over `maxBytes` kept as
 * its size and first 4 KiB.
 */
export function storableJson(payload: unknown, maxBytes: number): unknown {
  const clean = sanitize(payload, 0);
  const text = JSON.stringify(clean) ?? 'null';
  if (Buffer.byteLength(text) <= maxBytes) return clean;
  return { truncated: true, bytes: Buffer.byteLength(text), head: sanitizeText(text.slice(0, 4096)) };
}

function sanitizeText(text: string): string {
  if (textProblem(text) === null) return text;
  return text.replace(UNSTORABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function sanitize(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return sanitizeText(value);
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value !== 'object' || value === null) return value ?? null;
  if (depth >= MAX_NESTING) return `[nested more than ${MAX_NESTING} levels deep: cut off]`;
  if (Array.isArray(value)) return value.map((v) => sanitize(v, depth + 1));
  // No prototype: a `__proto__` key stays a key.
  const out = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of Object.entries(value)) out[sanitizeText(k)] = sanitize(v, depth + 1);
  return out;
}

/** `text` cut to about `max` characters for messages and bounded columns, saying how long it was. */
export function abbreviate(text: string, max = 100): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length} characters)`;
}
