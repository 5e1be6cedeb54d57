/**
 * Compares outcome lines as SPEC.md requires: states, reasons, timestamps and prices
 * identical, computed returns equal to within 1e-9 relative. Returns a description of the
 * first difference, or null.
 */
const RETURN_FIELDS = new Set(['grossReturn', 'netReturn', 'rMultiple', 'pnl', 'fees', 'mfe', 'mae']);

export function describeDifference(actual: readonly unknown[], expected: readonly unknown[]): string | null {
  if (actual.length !== expected.length) return `${actual.length} lines vs ${expected.length}`;
  for (let i = 0; i < actual.length; i++) {
    const d = diff(actual[i], expected[i], `line ${i + 1}`);
    if (d !== null) {
      const id = (expected[i] as { id?: unknown }).id;
      return `${d} (signal ${String(id)})\n  actual:   ${JSON.stringify(actual[i])}\n  expected: ${JSON.stringify(expected[i])}`;
    }
  }
  return null;
}

function diff(a: unknown, b: unknown, path: string): string | null {
  if (typeof a === 'number' && typeof b === 'number') {
    const field = path.split('.').pop()!;
    if (RETURN_FIELDS.has(field)) {
      const scale = Math.max(Math.abs(a), Math.abs(b));
      return Math.abs(a - b) <= 1e-9 * scale || Math.abs(a - b) <= 1e-15 ? null : `${path}: ${a} vs ${b}`;
    }
    return a === b || (a === 0 && b === 0) ? null : `${path}: ${a} vs ${b}`;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path}: ${a.length} items vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = diff(a[i], b[i], `${path}[${i}]`);
      if (d !== null) return d;
    }
    return null;
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    if (ka.join() !== kb.join()) return `${path}: keys ${ka.join(',')} vs ${kb.join(',')}`;
    for (const k of ka) {
      const d = diff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
      if (d !== null) return d;
    }
    return null;
  }
  return Object.is(a, b) ? null : `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
}
