import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import type { NormalizedSignal } from '../../machines/signalContext.ts';
import type { SignalPayload } from '../../machines/types.ts';
import { levelOrderErrors, type NamedLevel } from '../../machines/levelOrder.ts';
import { trackerError, type TrackerError } from '../errors.ts';
import { capProblems, describeSchemaErrors } from './schemaErrors.ts';

/** The published contract, read from the very file producers get (docs/schemas). */
export const trackSignalSchema: object = JSON.parse(
  readFileSync(new URL('../../docs/schemas/track-signal.v1.json', import.meta.url), 'utf8'),
);

let compiled: ValidateFunction | undefined;
function schemaCheck(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: true, strict: true, strictRequired: false, strictTypes: false }).compile(
    trackSignalSchema,
  );
  return compiled;
}

export type SignalValidation =
  { ok: true; signal: NormalizedSignal } | { ok: false; id: string | null; errors: TrackerError[] };

/** How far fractions may sum above 1 (SPEC.md). */
const FRACTION_SUM_SLACK = 1e-9;

/**
 * Validates a `track-signal` payload (SPEC.md "Validation"): every failing field is named,
 * then SPEC's defaults are filled in and the symbol upper-cased.
 */
export function validateSignal(payload: unknown): SignalValidation {
  const id = isRecord(payload) && typeof payload.id === 'string' ? payload.id : null;
  if (!isRecord(payload)) {
    return {
      ok: false,
      id: null,
      errors: [trackerError('PAYLOAD_SCHEMA', 'payload: must be a JSON object')],
    };
  }
  const check = schemaCheck();
  const errors = check(payload) ? [] : describeSchemaErrors(check.errors);
  // Cross-field rules run on whatever fields are well-formed, so every problem is named at once.
  errors.push(...crossFieldErrors(wellFormedParts(payload)));
  if (errors.length > 0) return { ok: false, id, errors: capProblems(errors) };
  return { ok: true, signal: normalize(payload as unknown as SignalPayload) };
}

type CrossFields = Pick<
  SignalPayload,
  | 'side'
  | 'entry'
  | 'stopLoss'
  | 'takeProfits'
  | 'breakevenAfterTp'
  | 'trailing'
  | 'createdAt'
  | 'entryExpiresAt'
  | 'roi'
>;

/** A level's price if it is a positive finite number (`{ price }`), else undefined. */
function levelPrice(x: unknown): number | undefined {
  return isRecord(x) && typeof x.price === 'number' && Number.isFinite(x.price) && x.price > 0
    ? x.price
    : undefined;
}

/** A level named in LEVEL_ORDER errors by its field. */
function named(price: number, field: string): NamedLevel {
  return { price, field, name: field };
}

/** The fields cross-field rules read, keeping only those that are well-formed on their own. */
function wellFormedParts(p: Record<string, unknown>): CrossFields {
  const entry = isRecord(p.entry) ? p.entry : {};
  const entryPrice = levelPrice(entry);
  const stop = levelPrice(p.stopLoss);
  const tps = Array.isArray(p.takeProfits) ? p.takeProfits : [];
  const goodTps = tps.every(
    (tp) => levelPrice(tp) !== undefined && isRecord(tp) && typeof tp.fraction === 'number',
  );
  return {
    side: p.side === 'short' ? 'short' : 'long',
    // Without a valid side, entry or TP list, order checks would only repeat the schema's complaint.
    entry:
      p.side !== 'long' && p.side !== 'short'
        ? { type: 'market' }
        : entry.type !== 'market' && entryPrice !== undefined
          ? { type: 'limit', price: entryPrice }
          : { type: 'market' },
    stopLoss:
      p.side === 'long' || p.side === 'short'
        ? stop === undefined
          ? undefined
          : { price: stop }
        : undefined,
    takeProfits:
      goodTps && (p.side === 'long' || p.side === 'short') ? (tps as SignalPayload['takeProfits']) : [],
    breakevenAfterTp:
      Number.isInteger(p.breakevenAfterTp) && goodTps ? (p.breakevenAfterTp as number) : undefined,
    trailing: isRecord(p.trailing) && goodTps ? (p.trailing as SignalPayload['trailing']) : undefined,
    // NaN where missing or malformed: every comparison with it is false, so nothing more is said.
    createdAt: Number.isInteger(p.createdAt) ? (p.createdAt as number) : NaN,
    entryExpiresAt: Number.isInteger(p.entryExpiresAt) ? (p.entryExpiresAt as number) : undefined,
    roi:
      Array.isArray(p.roi) && p.roi.every((r) => isRecord(r) && Number.isInteger(r.afterMs))
        ? (p.roi as SignalPayload['roi'])
        : undefined,
  };
}

function crossFieldErrors(s: CrossFields): TrackerError[] {
  const errors: TrackerError[] = [];
  const tps = s.takeProfits ?? [];
  const sum = tps.reduce((acc, tp) => acc + tp.fraction, 0);
  if (sum > 1 + FRACTION_SUM_SLACK)
    errors.push(trackerError('TP_FRACTION_SUM', `takeProfits: fractions sum to ${sum}, more than 1`));

  const reference = s.entry.type === 'market' ? null : s.entry.price;
  const stop = s.stopLoss?.price;
  errors.push(
    ...levelOrderErrors({
      side: s.side,
      pivot: reference === null ? null : { price: reference, field: 'entry.price', name: 'the entry price' },
      stop: stop === undefined ? null : named(stop, 'stopLoss.price'),
      takeProfits: tps.map((tp, i) => named(tp.price, `takeProfits[${i}].price`)),
    }),
  );
  if (s.breakevenAfterTp !== undefined && s.breakevenAfterTp > tps.length) {
    errors.push(
      trackerError(
        'TP_LEVEL_UNKNOWN',
        `breakevenAfterTp: names TP ${s.breakevenAfterTp}, but there ${countTps(tps.length)}`,
      ),
    );
  }
  if (s.entryExpiresAt !== undefined && s.entryExpiresAt <= s.createdAt) {
    errors.push(
      trackerError(
        'EXPIRY_NOT_AFTER_CREATED',
        `entryExpiresAt: ${s.entryExpiresAt} must be after createdAt ${s.createdAt}`,
      ),
    );
  }
  const roi = s.roi ?? [];
  for (let i = 1; i < roi.length; i++) {
    if (roi[i]!.afterMs <= roi[i - 1]!.afterMs) {
      errors.push(
        trackerError(
          'ROI_ORDER',
          `roi[${i}].afterMs: ${roi[i]!.afterMs} must be greater than roi[${i - 1}].afterMs ${roi[i - 1]!.afterMs}`,
        ),
      );
    }
  }
  const act: unknown = s.trailing?.activation;
  if (isRecord(act) && Number.isInteger(act.afterTp) && (act.afterTp as number) > tps.length) {
    errors.push(
      trackerError(
        'TP_LEVEL_UNKNOWN',
        `trailing.activation.afterTp: names TP ${String(act.afterTp)}, but there ${countTps(tps.length)}`,
      ),
    );
  }
  return errors;
}

function countTps(n: number): string {
  return n === 1 ? 'is 1 take-profit' : `are ${n} take-profits`;
}

function normalize(s: SignalPayload): NormalizedSignal {
  return {
    ...s,
    symbol: s.symbol.toUpperCase(),
    takeProfits: s.takeProfits ?? [],
    breakevenOffsetBps: s.breakevenOffsetBps ?? 0,
    toleranceBps: s.toleranceBps ?? 0,
    confirmMs: s.confirmMs ?? 0,
    trigger: s.trigger ?? 'last',
    stopFill: s.stopFill ?? 'trigger',
    feeBps: s.feeBps ?? 0,
    slippageBps: s.slippageBps ?? 0,
    tenant: s.tenant ?? 'default',
  };
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
