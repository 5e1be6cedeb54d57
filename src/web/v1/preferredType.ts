/**
 * Which of `offered` (the first is the default) an `Accept` header prefers: for each offered
 * type the `q` of the most specific range that matches it (exact, then `type/*`, then `*\/*`);
 * the highest `q` wins, the order of `offered` breaking ties. A header that accepts none of
 * them gets the default (lenient: the client still gets an answer it can read).
 */
export function preferredType(accept: string | undefined, offered: readonly [string, ...string[]]): string {
  if (accept === undefined || accept.trim() === '') return offered[0];
  const ranges = accept.split(',').map((part) => {
    const [range = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return { range: range.trim(), q: q === undefined ? 1 : Number(q.slice(2)) || 0 };
  });
  let best = offered[0];
  let bestQ = 0;
  for (const type of offered) {
    const matching = [type, `${type.split('/')[0]}/*`, '*/*']
      .map((r) => ranges.find((x) => x.range === r))
      .find((x) => x !== undefined);
    const q = matching?.q ?? 0;
    if (q > bestQ) [best, bestQ] = [type, q];
  }
  return best;
}
