/**
 * CRC-64/XZ: Go's hash/crc64 with the ECMA table (reflected polynomial 0xC96C5795D7870F42, init
 * and final XOR all ones). hashicorp's FileSnapshotStore stores it, big-endian, in meta.json.
 *
 * Snapshots stream hundreds of megabytes through this, so the 64-bit state is kept as two 32-bit
 * halves (no BigInt on the hot path) and the input is consumed eight bytes per step with
 * slicing-by-8 tables.
 */

const POLY_HI = 0xc96c5795;
const POLY_LO = 0xd7870f42;
const TABLE_SIZE = 256;
const SLICES = 8;

/** Slice k holds, for every byte value, the CRC contribution of that byte followed by k zero bytes. */
// Int32Array rather than Uint32Array: V8 keeps int32 values unboxed (no heap numbers on the hot path).
const tableLo = new Int32Array(TABLE_SIZE * SLICES);
const tableHi = new Int32Array(TABLE_SIZE * SLICES);

function buildTables(): void {
  for (let n = 0; n < TABLE_SIZE; n++) {
    let lo = n;
    let hi = 0;
    for (let bit = 0; bit < 8; bit++) {
      const carry = lo & 1;
      lo = ((lo >>> 1) | (hi << 31)) >>> 0;
      hi = hi >>> 1;
      if (carry) {
        lo = (lo ^ POLY_LO) >>> 0;
        hi = (hi ^ POLY_HI) >>> 0;
      }
    }
    tableLo[n] = lo;
    tableHi[n] = hi;
  }
  for (let slice = 1; slice < SLICES; slice++) {
    const base = slice * TABLE_SIZE;
    const prev = base - TABLE_SIZE;
    for (let n = 0; n < TABLE_SIZE; n++) {
      const lo = tableLo[prev + n];
      const hi = tableHi[prev + n];
      const index = lo & 0xff;
      tableLo[base + n] = ((lo >>> 8) | (hi << 24)) ^ tableLo[index];
      tableHi[base + n] = (hi >>> 8) ^ tableHi[index];
    }
  }
}
buildTables();

/** Incremental CRC-64/XZ. */
export class Crc64 {
  // The register is kept pre-inverted (init all ones); digest() applies the final XOR.
  private lo = -1;
  private hi = -1;

  update(chunk: Uint8Array): this {
    let lo = this.lo;
    let hi = this.hi;
    const length = chunk.length;
    const wholeEnd = length - (length % SLICES);
    let i = 0;
    for (; i < wholeEnd; i += SLICES) {
      const wordLo = lo ^ (chunk[i] | (chunk[i + 1] << 8) | (chunk[i + 2] << 16) | (chunk[i + 3] << 24));
      const wordHi = hi ^ (chunk[i + 4] | (chunk[i + 5] << 8) | (chunk[i + 6] << 16) | (chunk[i + 7] << 24));
      const a = 7 * TABLE_SIZE + (wordLo & 0xff);
      const b = 6 * TABLE_SIZE + ((wordLo >>> 8) & 0xff);
      const c = 5 * TABLE_SIZE + ((wordLo >>> 16) & 0xff);
      const d = 4 * TABLE_SIZE + (wordLo >>> 24);
      const e = 3 * TABLE_SIZE + (wordHi & 0xff);
      const f = 2 * TABLE_SIZE + ((wordHi >>> 8) & 0xff);
      const g = TABLE_SIZE + ((wordHi >>> 16) & 0xff);
      const h = wordHi >>> 24;
      lo =
        tableLo[a] ^ tableLo[b] ^ tableLo[c] ^ tableLo[d] ^ tableLo[e] ^ tableLo[f] ^ tableLo[g] ^ tableLo[h];
      hi =
        tableHi[a] ^ tableHi[b] ^ tableHi[c] ^ tableHi[d] ^ tableHi[e] ^ tableHi[f] ^ tableHi[g] ^ tableHi[h];
    }
    for (; i < length; i++) {
      const index = (lo ^ chunk[i]) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ tableLo[index];
      hi = (hi >>> 8) ^ tableHi[index];
    }
    this.lo = lo;
    this.hi = hi;
    return this;
  }

  /** The CRC so far as 8 bytes, big-endian (Go's hash.Sum). Does not end the computation. */
  digest(): Uint8Array {
    const out = new Uint8Array(8);
    this.digestInto(out, 0);
    return out;
  }

  /** Writes the 8-byte big-endian CRC so far into `out` at `offset` (no allocation). */
  digestInto(out: Uint8Array, offset: number): void {
    const hi = ~this.hi;
    const lo = ~this.lo;
    out[offset] = hi >>> 24;
    out[offset + 1] = hi >>> 16;
    out[offset + 2] = hi >>> 8;
    out[offset + 3] = hi;
    out[offset + 4] = lo >>> 24;
    out[offset + 5] = lo >>> 16;
    out[offset + 6] = lo >>> 8;
    out[offset + 7] = lo;
  }

  /** The CRC so far as 16 lowercase hex digits. */
  hex(): string {
    return Buffer.from(this.digest()).toString('hex');
  }
}

/** CRC-64/XZ of one buffer, big-endian. */
export function crc64(data: Uint8Array): Uint8Array {
  return new Crc64().update(data).digest();
}
