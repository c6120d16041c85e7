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

/**
 * The register after running `bytes[start..end)` through it, kept in two module-level halves so
 * that checking a record's checksum allocates nothing (the WAL does it for every record it reads).
 */
let registerLo = 0;
let registerHi = 0;

function run(lo: number, hi: number, bytes: Uint8Array, start: number, end: number): void {
  const wholeEnd = end - ((end - start) % SLICES);
  let i = start;
  for (; i < wholeEnd; i += SLICES) {
    const wordLo = lo ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    const wordHi = hi ^ (bytes[i + 4] | (bytes[i + 5] << 8) | (bytes[i + 6] << 16) | (bytes[i + 7] << 24));
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
  for (; i < end; i++) {
    const index = (lo ^ bytes[i]) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ tableLo[index];
    hi = (hi >>> 8) ^ tableHi[index];
  }
  registerLo = lo;
  registerHi = hi;
}

/** Writes the 8-byte big-endian CRC of the pre-inverted register (lo, hi) into `out` at `offset`. */
function writeDigest(lo: number, hi: number, out: Uint8Array, offset: number): void {
  hi = ~hi;
  lo = ~lo;
  out[offset] = hi >>> 24;
  out[offset + 1] = hi >>> 16;
  out[offset + 2] = hi >>> 8;
  out[offset + 3] = hi;
  out[offset + 4] = lo >>> 24;
  out[offset + 5] = lo >>> 16;
  out[offset + 6] = lo >>> 8;
  out[offset + 7] = lo;
}

/** Writes the CRC-64/XZ of `bytes[start..end)` into `bytes` at `at`, big-endian (no allocation). */
export function sealCrc64(bytes: Uint8Array, start: number, end: number, at: number): void {
  run(-1, -1, bytes, start, end);
  writeDigest(registerLo, registerHi, bytes, at);
}

/** True when the 8 bytes at `at` are the big-endian CRC-64/XZ of `bytes[start..end)` (no allocation). */
export function checkCrc64(bytes: Uint8Array, start: number, end: number, at: number): boolean {
  run(-1, -1, bytes, start, end);
  const hi = ~registerHi;
  const lo = ~registerLo;
  return (
    ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) === hi &&
    ((bytes[at + 4] << 24) | (bytes[at + 5] << 16) | (bytes[at + 6] << 8) | bytes[at + 7]) === lo
  );
}

/** Incremental CRC-64/XZ. */
export class Crc64 {
  // The register is kept pre-inverted (init all ones); digest() applies the final XOR.
  private lo = -1;
  private hi = -1;

  update(chunk: Uint8Array): this {
    run(this.lo, this.hi, chunk, 0, chunk.length);
    this.lo = registerLo;
    this.hi = registerHi;
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
    writeDigest(this.lo, this.hi, out, offset);
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
