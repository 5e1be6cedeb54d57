/**
 * Decodes UTF-8 text fields of COPY binary rows into one string per distinct value: a value seen
 * before is found by its bytes and its string returned again, without decoding or allocating.
 * The analyzer's key columns (tenant, strategy, model, version, symbol, timeframe, outcome, stop
 * kind) have a few hundred distinct values over a million rows; decoding each of the eight
 * million fields into a new string, and hashing that string again in the dictionaries after,
 * cost about 2 s of CPU per million rows in a profile. The same string instance each time also
 * keeps its cached hash for the Map lookups that follow.
 */

interface Entry {
  hash: number;
  bytes: Buffer;
  text: string;
  next: Entry | undefined;
}

export class TextInterner {
  private buckets: (Entry | undefined)[] = new Array<Entry | undefined>(1024);
  private count = 0;

  /** The text of `buffer[start .. start + length)`. */
  text(buffer: Buffer, start: number, length: number): string {
    // FNV-1a over the bytes.
    let hash = 0x811c9dc5;
    for (let i = start; i < start + length; i++) hash = Math.imul(hash ^ buffer[i]!, 0x01000193);
    for (let e = this.buckets[hash & (this.buckets.length - 1)]; e !== undefined; e = e.next) {
      if (e.hash === hash && e.bytes.length === length && sameBytes(e.bytes, buffer, start)) return e.text;
    }
    const text = buffer.toString('utf8', start, start + length);
    // A copy: the stream's buffer is reused for later rows.
    this.add({ hash, bytes: Buffer.from(buffer.subarray(start, start + length)), text, next: undefined });
    return text;
  }

  private add(entry: Entry): void {
    if (++this.count > this.buckets.length) {
      // Keep chains short whatever the number of distinct values.
      const old = this.buckets;
      this.buckets = new Array<Entry | undefined>(old.length * 2);
      for (let e of old) {
        while (e !== undefined) {
          const next = e.next;
          this.link(e);
          e = next;
        }
      }
    }
    this.link(entry);
  }

  private link(e: Entry): void {
    const slot = e.hash & (this.buckets.length - 1);
    e.next = this.buckets[slot];
    this.buckets[slot] = e;
  }
}

function sameBytes(a: Buffer, b: Buffer, start: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[start + i]) return false;
  return true;
}
