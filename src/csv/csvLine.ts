/**
 * One CSV line (RFC 4180) of `values`, ending in CRLF: a field holding a comma, quote, CR or LF
 * is quoted with its quotes doubled; null and undefined are empty; objects are their JSON.
 */
export function csvLine(values: readonly unknown[]): string {
  return values.map(csvField).join(',') + '\r\n';
}

function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
