/**
 * Splits the output of `COPY … TO STDOUT (FORMAT binary)` into rows, whatever the chunking of
 * the stream: a row cut between two chunks is kept until the rest arrives. Each row is handed
 * over as the offsets and lengths of its fields in a buffer (length -1 = NULL); decoding the
 * values is the caller's, who knows the column types. Format: PostgreSQL's documentation,
 * "COPY", "Binary Format" (an 11-byte signature, flags, a header extension, then per row a
 * 16-bit field count and per field a 32-bit length and the bytes; a count of -1 ends the data).
 */

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Signature, flags (32 bits) and the header extension's length (32 bits). */
const HEADER_BYTES = SIGNATURE.length + 8;

/** Called once per row; `starts` and `lengths` are reused for the next row. */
export type CopyRowHandler = (buffer: Buffer, starts: Int32Array, lengths: Int32Array) => void;

export class CopyBinaryParser {
  private pending: Buffer | null = null;
  private headerRead = false;
  private ended = false;
  private readonly starts: Int32Array;
  private readonly lengths: Int32Array;

  /** `fields`: the number of columns every row must have. */
  constructor(
    private readonly fields: number,
    private readonly onRow: CopyRowHandler,
  ) {
    this.starts = new Int32Array(fields);
    this.lengths = new Int32Array(fields);
  }

  /** Parses the rows `chunk` completes; keeps a row that it leaves unfinished. */
  write(chunk: Buffer): void {
    if (this.ended) {
      if (chunk.length > 0) throw new Error('COPY binary data after its end marker');
      return;
    }
    const buffer = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    let pos = 0;
    if (!this.headerRead) {
      if (buffer.length < HEADER_BYTES) {
        this.pending = buffer;
        return;
      }
      if (!buffer.subarray(0, SIGNATURE.length).equals(SIGNATURE)) {
        throw new Error('not COPY binary data: the signature differs');
      }
      const extension = buffer.readInt32BE(SIGNATURE.length + 4);
      if (buffer.length < HEADER_BYTES + extension) {
        this.pending = buffer;
        return;
      }
      pos = HEADER_BYTES + extension;
      this.headerRead = true;
    }
    const { starts, lengths, fields } = this;
    const size = buffer.length;
    for (;;) {
      if (size - pos < 2) break;
      const count = buffer.readInt16BE(pos);
      if (count === -1) {
        this.ended = true;
        pos += 2;
        break;
      }
      if (count !== fields) throw new Error(`COPY binary row of ${count} fields, expected ${fields}`);
      let p = pos + 2;
      let complete = true;
      for (let f = 0; f < fields; f++) {
        if (size - p < 4) {
          complete = false;
          break;
        }
        const length = buffer.readInt32BE(p);
        p += 4;
        starts[f] = p;
        lengths[f] = length;
        if (length > 0) {
          p += length;
          if (p > size) {
            complete = false;
            break;
          }
        }
      }
      if (!complete) break;
      this.onRow(buffer, starts, lengths);
      pos = p;
    }
    this.pending = pos < size ? buffer.subarray(pos) : null;
    if (this.ended && this.pending !== null) throw new Error('COPY binary data after its end marker');
  }

  /** Checks that the data ended where it should: after the end marker, no row cut short. */
  end(): void {
    if (!this.ended) throw new Error('COPY binary data ended before its end marker');
  }
}
