import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import type { Operation } from '../../machines/types.ts';
import { trackerError, type TrackerError } from '../errors.ts';
import { describeSchemaErrors } from './schemaErrors.ts';

/** The published contract of the `signal-ops` queue. */
export const signalOpSchema: object = JSON.parse(
  readFileSync(new URL('../../docs/schemas/signal-op.v1.json', import.meta.url), 'utf8'),
);

let compiled: ValidateFunction | undefined;

export type OperationValidation =
  { ok: true; op: Operation } | { ok: false; id: string | null; errors: TrackerError[] };

/** Checks an operation's shape (unknown fields, types). Whether it applies to its signal is the machine's call. */
export function validateOperation(payload: unknown): OperationValidation {
  const id =
    typeof payload === 'object' && payload !== null && typeof (payload as { id?: unknown }).id === 'string'
      ? (payload as { id: string }).id
      : null;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return {
      ok: false,
      id: null,
      errors: [trackerError('PAYLOAD_SCHEMA', 'operation: must be a JSON object')],
    };
  }
  compiled ??= new Ajv({ allErrors: true, strict: true, strictRequired: false, strictTypes: false }).compile(
    signalOpSchema,
  );
  if (!compiled(payload)) return { ok: false, id, errors: describeSchemaErrors(compiled.errors) };
  return { ok: true, op: payload as Operation };
}
