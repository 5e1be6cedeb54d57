/** Declares a helper inside itself: tsx names it once a call (test/support/tickPathNamings.ts). */
export function namedInside(): number {
  const inner = (): number => 1;
  return inner();
}
