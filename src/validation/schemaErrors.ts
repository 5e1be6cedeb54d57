import type { ErrorObject } from 'ajv';
import { trackerError, type TrackerError } from '../errors.ts';
import { abbreviate } from './checkStorable.ts';

/**
 * At most this many problems are listed, then one line counting the rest: a payload with a
 * 40,000-item array must not become 40,000 stored reasons (nor a job failure of megabytes).
 */
export const MAX_SCHEMA_PROBLEMS = 50;
/** A field name is quoted up to this length in a message (a key can be any length). */
const MAX_NAME_CHARS = 100;

/**
 * Turns ajv's errors into one readable sentence per problem (code PAYLOAD_SCHEMA), naming the field as a path
 * (`takeProfits[1].price`). Structural noise (the failing `if` of a conditional, a `oneOf`
 * that only repeats its branches' errors) is folded into a single message. At most
 * {@link MAX_SCHEMA_PROBLEMS} are listed, the last line counting the others.
 */
export function describeSchemaErrors(errors: ErrorObject[] | null | undefined): TrackerError[] {
  const out: string[] = [];
  const oneOfPaths = new Set(errors?.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath));
  for (const e of errors ?? []) {
    if (e.keyword === 'if') continue;
    // Errors inside a failed oneOf are reported once, by the oneOf itself.
    if (
      e.keyword !== 'oneOf' &&
      [...oneOfPaths].some((p) => e.schemaPath.includes('/oneOf/') && e.instancePath === p)
    ) {
      continue;
    }
    const field = abbreviate(toField(e.instancePath), MAX_NAME_CHARS);
    out.push(message(field, e));
  }
  return capProblems([...new Set(out)].map((m) => trackerError('PAYLOAD_SCHEMA', m)));
}

/**
 * `errors` with at most {@link MAX_SCHEMA_PROBLEMS} listed, then one more counting the others
 * (with the code of the first one left out).
 */
export function capProblems(errors: TrackerError[]): TrackerError[] {
  if (errors.length <= MAX_SCHEMA_PROBLEMS) return errors;
  const rest = errors.length - MAX_SCHEMA_PROBLEMS;
  return [
    ...errors.slice(0, MAX_SCHEMA_PROBLEMS),
    trackerError(errors[MAX_SCHEMA_PROBLEMS]!.code, `… and ${rest} more problems of the same payload`),
  ];
}

function message(field: string, e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  const at = field === '' ? 'payload' : field;
  switch (e.keyword) {
    case 'required': {
      const name = join(field, abbreviate(String(p.missingProperty), MAX_NAME_CHARS));
      return `${name}: is required`;
    }
    case 'additionalProperty':
    case 'additionalProperties':
      return `${join(field, abbreviate(String(p.additionalProperty), MAX_NAME_CHARS))}: unknown field (free-form data belongs in meta)`;
    case 'type':
      return `${at}: must be ${article(String(p.type))}${p.type === 'number' || p.type === 'integer' ? ' (finite)' : ''}`;
    case 'const':
      return `${at}: must be ${JSON.stringify(p.allowedValue)}`;
    case 'enum':
      return `${at}: must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'exclusiveMinimum':
      return `${at}: must be greater than ${String(p.limit)}`;
    case 'minimum':
      return `${at}: must be at least ${String(p.limit)}`;
    case 'exclusiveMaximum':
      return `${at}: must be less than ${String(p.limit)}`;
    case 'maximum':
      return `${at}: must be at most ${String(p.limit)}`;
    case 'minLength':
      return p.limit === 1
        ? `${at}: must not be empty`
        : `${at}: must have at least ${String(p.limit)} characters`;
    case 'maxLength':
      return `${at}: must have at most ${String(p.limit)} characters`;
    case 'maxItems':
      return `${at}: must have at most ${String(p.limit)} items`;
    case 'minItems':
      return `${at}: must have at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}`;
    case 'pattern':
      return `${at}: must not contain white space`;
    case 'not':
      return `${at}: a market entry takes no price`;
    case 'oneOf':
      return `${at}: must be "fill", {"price": number} or {"afterTp": integer}`;
    default:
      return `${at}: ${e.message ?? 'is invalid'}`;
  }
}

function toField(pointer: string): string {
  let out = '';
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(key) ? `[${key}]` : out === '' ? key : `.${key}`;
  }
  return out;
}

function join(field: string, name: string): string {
  return field === '' ? name : `${field}.${name}`;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
