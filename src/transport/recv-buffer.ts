/**
 * The bytes received on a connection and not yet parsed: hashicorp's bufio.Reader, shaped for an
 * incremental decoder that needs the whole frame in one contiguous array. Decoders reading from it
 * must copy the bytes they keep (Decoder copyBytes = true): the storage is compacted and reused.
 *
 * `retained` is the memory it holds, which the server side charges to the inbound buffer budget;
 * `append` may be told the most it may hold, and then refuses a chunk rather than outgrow it.
 */

const MIN_CAPACITY = 64 * 1024;

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

  /** Bytes of memory held: the storage, or the adopted chunk. */
  get retained(): number {
    return this.buf.length;
  }

  /** The storage up to the last received byte; unparsed bytes start at `offset`. */
  view(): Uint8Array {
    this.cachedView ??= this.buf.subarray(0, this.end);
    return this.cachedView;
  }

  /**
   * Adds a chunk; false (and nothing added) if holding it would take more than maxCapacity bytes.
   * `expected` is how long the unparsed data is known to become (a frame's declared size), so a
   * large frame gets its storage in one allocation.
   */
  append(chunk: Uint8Array, maxCapacity = Infinity, expected = 0): boolean {
    if (chunk.length === 0) return true;
    if (this.length === 0) {
      if (chunk.length > maxCapacity) return false;
      // Parse straight from the socket's chunk when nothing is pending: no copy. A plain
      // Uint8Array view, because Buffer's slice() aliases where the decoder expects a copy.
      this.cachedView = null;
      this.buf = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
      this.start = 0;
      this.end = chunk.length;
      this.borrowed = true;
      return true;
    }
    const live = this.length;
    const needed = live + chunk.length;
    if (!this.borrowed && this.end + chunk.length <= this.buf.length) {
      this.cachedView = null;
      this.buf.set(chunk, this.end);
      this.end += chunk.length;
      return true;
    }
    if (!this.borrowed && needed <= this.buf.length) {
      this.buf.copyWithin(0, this.start, this.end);
    } else {
      const capacity = Math.min(Math.max(MIN_CAPACITY, needed * 2, expected), maxCapacity);
      if (capacity < needed) return false;
      const next = new Uint8Array(capacity);
      next.set(this.buf.subarray(this.start, this.end));
      this.buf = next;
      this.borrowed = false;
    }
    this.cachedView = null;
    this.buf.set(chunk, live);
    this.start = 0;
    this.end = needed;
    return true;
  }

  /** Drops n parsed bytes from the front; an emptied buffer lets go of its storage. */
  consume(n: number): void {
    this.start += n;
    if (this.start >= this.end) return this.clear();
    // After a large frame, the start of the next one should not keep the large storage alive.
    if (!this.borrowed && this.buf.length > 2 * MIN_CAPACITY && this.length <= MIN_CAPACITY) {
      this.buf = this.buf.slice(this.start, this.end);
      this.end = this.length;
      this.start = 0;
      this.cachedView = null;
    }
  }

  /** Removes and returns up to n bytes from the front, as a copy the caller owns. */
  take(n: number): Uint8Array {
    const count = Math.min(n, this.length);
    const out = this.buf.slice(this.start, this.start + count);
    this.consume(count);
    return out;
  }

  /** Forgets everything held (the next chunk is adopted again, so keeping storage would not help). */
  clear(): void {
    this.start = 0;
    this.end = 0;
    this.cachedView = null;
    this.buf = new Uint8Array(0);
    this.borrowed = false;
  }
}
