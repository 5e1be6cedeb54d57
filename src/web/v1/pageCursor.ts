import { HttpError } from '../httpErrors.ts';
import { isQueryTime } from './timeBounds.ts';

/** Where a page of (closed_at, signal_id)-ordered rows resumes: after this row. */
export interface PagePosition {
  closedAt: number;
  signalId: string;
}

/** The opaque cursor of a position (base64url of `[closedAt, signalId]`). */
export function encodeCursor(position: PagePosition): string {
  return Buffer.from(JSON.stringify([position.closedAt, position.signalId]), 'utf8').toString('base64url');
}

/** The position of a cursor from {@link encodeCursor}; 400 VALIDATION_FAILED for anything else. */
export function decodeCursor(cursor: string): PagePosition {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'number' &&
      isQueryTime(value[0]) &&
      typeof value[1] === 'string'
    )
      return { closedAt: value[0] as number, signalId: value[1] };
  } catch {
    // falls through to the refusal
  }
  throw new HttpError('VALIDATION_FAILED', 'cursor: not a cursor this API gave', [
    { code: 'PAYLOAD_SCHEMA', message: 'querystring.cursor: not a cursor this API gave' },
  ]);
}
