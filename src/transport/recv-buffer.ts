/**
 * The bytes received on a connection and not yet parsed: hashicorp's bufio.Reader, shaped for an
 * incremental decoder that needs the whole frame in one contiguous array. Decoders reading from it
 * must copy the bytes they keep (Decoder copyBytes = true): the storage is compacted and reused.
 */

const MIN_CAPACITY = 64 * 1024;
/** After a big frame the buffer shrinks back once it is empty, so an idle connection stays small. */
const KEEP_CAPACITY = 1024 * 1024;

export class ReceiveBuffer {
  private buf: Uint8Array = new Uint8Array(0);
  private start = 0;
  private end = 0;
  /** True while buf is a chunk adopted from the socket (never written to). */
  private borrowed = false;
  private cachedView: Uint8Array | null = null;

  get length(): number {
    return this.end - this.start;
  }

  /** Offset of the first unparsed byte within view(). */
  get offset(): number {
    return this.start;
  }

  /** The storage up to the last received byte; unparsed bytes start at `offset`. */
  view(): Uint8Array {
    this.cachedView ??= this.buf.subarray(0, this.end);
    return this.cachedView;
  }

  append(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.cachedView = null;
    if (this.length === 0) {
      // Parse straight from the socket's chunk when nothing is pending: no copy. A plain
      // Uint8Array view, because Buffer's slice() aliases where the decoder expects a copy.
      this.buf = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
      this.start = 0;
      this.end = chunk.length;
      this.borrowed = true;
      return;
    }
    const live = this.length;
    const needed = live + chunk.length;
    if (!this.borrowed && this.end + chunk.length <= this.buf.length) {
      this.buf.set(chunk, this.end);
      this.end += chunk.length;
      return;
    }
    if (!this.borrowed && needed <= this.buf.length) {
      this.buf.copyWithin(0, this.start, this.end);
    } else {
      const next = new Uint8Array(Math.max(MIN_CAPACITY, needed * 2));
      next.set(this.buf.subarray(this.start, this.end));
      this.buf = next;
      this.borrowed = false;
    }
    this.buf.set(chunk, live);
    this.start = 0;
    this.end = needed;
  }

  /** Drops n parsed bytes from the front. */
  consume(n: number): void {
    this.start += n;
    if (this.start < this.end) return;
    this.start = 0;
    this.end = 0;
    this.cachedView = null;
    if (this.borrowed || this.buf.length > KEEP_CAPACITY) {
      this.buf = new Uint8Array(0);
      this.borrowed = false;
    }
  }

  /** Removes and returns up to n bytes from the front, as a copy the caller owns. */
  take(n: number): Uint8Array {
    const count = Math.min(n, this.length);
    const out = this.buf.slice(this.start, this.start + count);
    this.consume(count);
    return out;
  }
}
