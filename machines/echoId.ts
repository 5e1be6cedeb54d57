/** How many characters of an id a message repeats: enough to recognise it, not a whole payload. */
export const ECHOED_ID_CHARS = 100;

/** An id as messages echo it: at most `ECHOED_ID_CHARS` characters, cut ones ending in "…". */
export function echoId(id: string): string {
  return id.length <= ECHOED_ID_CHARS ? id : `${id.slice(0, ECHOED_ID_CHARS)}…`;
}
