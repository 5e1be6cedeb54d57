import { abbreviate, storableJson } from '../validation/checkStorable.ts';

/** Largest payload stored with a rejection as it came; a larger one is kept as its size and head. */
export const STORED_PAYLOAD_BYTES = 256 * 1024;

/** An id as a bounded column holds it: a 1 MB id fits no index. */
export function storedId(id: string | null): string | null {
  return id === null ? null : (storableJson(abbreviate(id, 200), STORED_PAYLOAD_BYTES) as string);
}
