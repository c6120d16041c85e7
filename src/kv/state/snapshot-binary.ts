/**
 * Version 3 of the KV snapshot (docs/kv-contract.md): length-prefixed binary records, values as
 * raw bytes (version 2 spends base64 and a JSON.parse per key). The records and their order are
 * version 2's, so replicas with the same state write the same bytes, and restore holds one record
 * at a time: memory is bounded by the largest record (`maxRecordBytes`), not the snapshot.
 *
 *   magic "RAFTKIT-KV", u8 version 3, then records: u32 BE body length n, u8 type, n body bytes.
 *   All integers big-endian; strings UTF-8 with a u32 length.
 *
 *   1 header  u64 revision, u64 compactRevision                         (first)
 *   2 key     u64 revision, u64 lease (0: none), str key, value bytes    (keys in UTF-8 order)
 *   3 lease   u64 id, u64 ttl                                            (by ID)
 *   4 lock    u64 holder (0: free), u64 token, str name, u32 n, n x u64 waiter  (by name)
 *   5 event   u64 revision, u8 op (1 put, 2 delete), str key, value bytes (oldest first)
 *   6 end     u64 number of records before it                           (last: a cut snapshot is refused)
 */
import { ErrDecode, ErrSnapshotCorrupt, ErrTooLarge, type SnapshotSink } from '../../index.js';
import type { HistoryLimits } from './history.js';
import type { CapturedState } from './capture.js';
import { SnapshotRestorer } from './snapshot-restore.js';
import type { KvStore } from './store.js';

export const V3_MAGIC = Buffer.from('RAFTKIT-KV\x03', 'latin1');
const PREFIX = 5;
const Type = { Header: 1, Key: 2, Lease: 3, Lock: 4, Event: 5, End: 6 } as const;
const TWO_POW_32 = 0x1_0000_0000;

/** Lays records into chunks of about `chunkBytes` and writes them to the sink as they fill. */
class ChunkWriter {
  private chunk: Buffer;
  private at = 0;
  records = 0;

  constructor(
    private readonly sink: SnapshotSink,
    private readonly chunkBytes: number,
  ) {
    this.chunk = Buffer.allocUnsafe(chunkBytes);
  }

  /**
   * Whether a record of `body` bytes fits in the chunk; if not, `flush(body)` first. Only then is
   * there anything to await: an await per record was most of the writer's time.
   */
  fits(body: number): boolean {
    return this.at + PREFIX + body <= this.chunk.length;
  }

  /** Starts a record of `body` bytes that fits; returns where its body starts in `buf`. */
  begin(type: number, body: number): number {
    this.chunk.writeUInt32BE(body, this.at);
    this.chunk[this.at + 4] = type;
    const start = this.at + PREFIX;
    this.at += PREFIX + body;
    this.records++;
    return start;
  }

  /** The format's magic: first, before any record. */
  magic(): void {
    this.chunk.set(V3_MAGIC, 0);
    this.at = V3_MAGIC.length;
  }

  get buf(): Buffer {
    return this.chunk;
  }

  /** Writes out what the chunk holds; the next one has room for a record of `body` bytes. */
  async flush(body = 0): Promise<void> {
    if (this.at > 0) {
      // The sink may keep the buffer: hand it over and start a new one.
      await this.sink.write(this.chunk.subarray(0, this.at));
      this.at = 0;
    }
    this.chunk = Buffer.allocUnsafe(Math.max(this.chunkBytes, PREFIX + body));
  }
}

/** Writes `state` as a version 3 snapshot in chunks of about `chunkBytes`, honouring backpressure. */
export async function writeSnapshotV3(
  sink: SnapshotSink,
  state: CapturedState,
  chunkBytes: number,
): Promise<void> {
  const out = new ChunkWriter(sink, Math.max(chunkBytes, 64)); // room for the magic and the header
  out.magic();
  let at = out.begin(Type.Header, 16);
  u64(out.buf, at, state.revision);
  u64(out.buf, at + 8, state.compactRevision);
  for (const [key, entry] of state.keys) {
    const keyBytes = Buffer.byteLength(key, 'utf8');
    const body = 20 + keyBytes + entry.value.length;
    if (!out.fits(body)) await out.flush(body);
    at = out.begin(Type.Key, body);
    u64(out.buf, at, entry.revision);
    u64(out.buf, at + 8, entry.lease);
    at = str(out.buf, at + 16, key, keyBytes);
    out.buf.set(entry.value, at);
  }
  for (const { id, ttl } of state.leases) {
    if (!out.fits(16)) await out.flush();
    at = out.begin(Type.Lease, 16);
    u64(out.buf, at, id);
    u64(out.buf, at + 8, ttl);
  }
  for (const { name, lock } of state.locks) {
    const nameBytes = Buffer.byteLength(name, 'utf8');
    const body = 24 + nameBytes + 8 * lock.waiters.length;
    if (!out.fits(body)) await out.flush(body);
    at = out.begin(Type.Lock, body);
    u64(out.buf, at, lock.holder);
    u64(out.buf, at + 8, lock.token);
    at = str(out.buf, at + 16, name, nameBytes);
    out.buf.writeUInt32BE(lock.waiters.length, at);
    for (let i = 0; i < lock.waiters.length; i++) u64(out.buf, at + 4 + 8 * i, lock.waiters[i]);
  }
  for (const event of state.events) {
    const keyBytes = Buffer.byteLength(event.key, 'utf8');
    const value = event.value ?? Buffer.alloc(0);
    const body = 13 + keyBytes + value.length;
    if (!out.fits(body)) await out.flush(body);
    at = out.begin(Type.Event, body);
    u64(out.buf, at, event.revision);
    out.buf[at + 8] = event.op === 'put' ? 1 : 2;
    at = str(out.buf, at + 9, event.key, keyBytes);
    out.buf.set(value, at);
  }
  const records = out.records;
  if (!out.fits(8)) await out.flush();
  at = out.begin(Type.End, 8);
  u64(out.buf, at, records);
  await out.flush();
}

/** The bytes of a snapshot after its magic: what is already buffered, then the chunks to come. */
export interface BinarySource {
  pending: Buffer;
  /** The next chunk; null at the end. */
  next(): Promise<Buffer | null>;
}

/**
 * Reads the records after the magic into a new store. Whole records are decoded straight from the
 * chunk they arrived in, without waiting; only a record that straddles chunks is copied (with the
 * next chunk) into one buffer. So memory is a chunk plus the largest record.
 */
export async function readSnapshotV3(
  source: BinarySource,
  historyLimits: HistoryLimits,
  maxRecordBytes: number,
): Promise<KvStore> {
  const restorer = new SnapshotRestorer(historyLimits);
  let buf = source.pending;
  let at = 0;
  let number = 1;
  for (;;) {
    while (buf.length - at >= PREFIX) {
      const length = buf.readUInt32BE(at);
      if (length > maxRecordBytes)
        throw new ErrTooLarge(`kv snapshot record exceeds ${maxRecordBytes} bytes`);
      const end = at + PREFIX + length;
      if (end > buf.length) break;
      const type = buf[at + 4];
      const where = `record ${number}`;
      if ((number === 1) !== (type === Type.Header))
        throw new ErrDecode(`${where}: the header must come first, once`);
      if (type === Type.End) {
        if (length !== 8 || readU64(buf, at + PREFIX, where) !== number - 1)
          throw new ErrDecode(`${where}: record count does not match`);
        if (end < buf.length || (await nonEmptyChunk(source)))
          throw new ErrDecode(`${where}: bytes follow the end record`);
        return restorer.finish();
      }
      decodeRecord(restorer, type, buf, at + PREFIX, end, where);
      at = end;
      number++;
    }
    const chunk = await source.next();
    if (chunk === null) {
      throw new ErrSnapshotCorrupt(
        at < buf.length
          ? 'kv snapshot ends in the middle of a record'
          : 'kv snapshot ends without its end record',
      );
    }
    buf = at < buf.length ? Buffer.concat([buf.subarray(at), chunk]) : chunk;
    at = 0;
  }
}

async function nonEmptyChunk(source: BinarySource): Promise<boolean> {
  for (let chunk = await source.next(); chunk !== null; chunk = await source.next()) {
    if (chunk.length > 0) return true;
  }
  return false;
}

/** Decodes the record of `type` whose body is `buf[start..end)`. */
function decodeRecord(
  restorer: SnapshotRestorer,
  type: number,
  buf: Buffer,
  start: number,
  end: number,
  where: string,
): void {
  const fixed = (bytes: number) => {
    if (end - start < bytes) throw new ErrDecode(`${where}: record too short`);
  };
  switch (type) {
    case Type.Header:
      fixed(16);
      return restorer.header(readU64(buf, start, where), readU64(buf, start + 8, where));
    case Type.Key: {
      fixed(20);
      const [key, at] = readStr(buf, start + 16, end, where);
      // A copy: the value must not hold on to the chunk it arrived in.
      const value = Buffer.from(buf.subarray(at, end));
      return restorer.key(key, value, readU64(buf, start, where), readU64(buf, start + 8, where), where);
    }
    case Type.Lease:
      fixed(16);
      return restorer.lease(readU64(buf, start, where), readU64(buf, start + 8, where), where);
    case Type.Lock: {
      fixed(24);
      const [name, at] = readStr(buf, start + 16, end, where);
      if (at + 4 > end) throw new ErrDecode(`${where}: record too short`);
      const count = buf.readUInt32BE(at);
      if (at + 4 + 8 * count !== end) throw new ErrDecode(`${where}: waiters do not fill the record`);
      const waiters: number[] = [];
      for (let i = 0; i < count; i++) waiters.push(readU64(buf, at + 4 + 8 * i, where));
      return restorer.lock(name, readU64(buf, start, where), readU64(buf, start + 8, where), waiters, where);
    }
    case Type.Event: {
      fixed(13);
      const op = buf[start + 8] === 1 ? 'put' : buf[start + 8] === 2 ? 'delete' : `op ${buf[start + 8]}`;
      const [key, at] = readStr(buf, start + 9, end, where);
      const value = op === 'put' ? Buffer.from(buf.subarray(at, end)) : at === end ? null : Buffer.alloc(0);
      return restorer.event(readU64(buf, start, where), op, key, value, where);
    }
    default:
      throw new ErrDecode(`${where}: unknown record type ${type}`);
  }
}

function u64(out: Buffer, at: number, value: number): void {
  out.writeUInt32BE(Math.floor(value / TWO_POW_32), at);
  out.writeUInt32BE(value % TWO_POW_32, at + 4);
}

function str(out: Buffer, at: number, text: string, bytes: number): number {
  out.writeUInt32BE(bytes, at);
  out.write(text, at + 4, bytes, 'utf8');
  return at + 4 + bytes;
}

function readU64(buf: Buffer, at: number, where: string): number {
  const high = buf.readUInt32BE(at);
  if (high > 0x1f_ffff) throw new ErrDecode(`${where}: a number exceeds 2^53-1`);
  return high * TWO_POW_32 + buf.readUInt32BE(at + 4);
}

/** The string at `at` (u32 length, UTF-8) of a record ending at `end`, and where it ends. */
function readStr(buf: Buffer, at: number, end: number, where: string): [string, number] {
  const stop = at + 4 + buf.readUInt32BE(at);
  if (stop > end) throw new ErrDecode(`${where}: a string overruns the record`);
  return [buf.toString('utf8', at + 4, stop), stop];
}
