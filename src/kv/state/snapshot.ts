/**
 * The KV snapshot formats (docs/kv-contract.md). Version 3 (the default, snapshot-binary.ts) is
 * length-prefixed binary records; version 2 is newline-delimited JSON, one record per line. Both
 * hold the same records in a fixed order (header, keys in UTF-8 order, leases by ID, locks by name,
 * the history oldest first), so that they stream both ways with bounded memory and two replicas
 * with the same state write the same bytes. Version 2 is still written on request (a cluster being
 * upgraded from a version that reads only it); version 1 (one JSON object of base64 values) still
 * restores.
 */
import type { Readable } from 'node:stream';
import { ErrDecode, ErrSnapshotCorrupt, ErrTooLarge, type SnapshotSink } from '../../index.js';
import {
  asArray,
  asObject,
  base64Field,
  decodeBase64Strict,
  encodeBase64,
  keyField,
  leaseIdField,
  checkLeaseId,
  nullableBase64Field,
  type JsonObject,
} from '../json-fields.js';
import type { HistoryLimits } from './history.js';
import type { CapturedState } from './capture.js';
import { readSnapshotV3, V3_MAGIC, writeSnapshotV3, type BinarySource } from './snapshot-binary.js';
import { SnapshotRestorer } from './snapshot-restore.js';
import { KvStore } from './store.js';

export interface SnapshotLimits {
  /** Longest line of a version 2 snapshot, or record of a version 3 one, in bytes. */
  maxLineBytes: number;
  /** Largest version 1 snapshot (it is one JSON object, parsed in memory), in bytes. */
  maxV1Bytes: number;
}

/** The lines of a version 2 snapshot, each with its newline, produced one at a time. */
export function* snapshotLines(state: CapturedState): Generator<string> {
  yield `${JSON.stringify({ format: 2, revision: state.revision, compactRevision: state.compactRevision })}\n`;
  for (const [key, entry] of state.keys) {
    const record: JsonObject = { k: key, v: encodeBase64(entry.value), r: entry.revision };
    if (entry.lease !== 0) record.l = String(entry.lease);
    yield `${JSON.stringify(record)}\n`;
  }
  for (const { id, ttl } of state.leases) yield `${JSON.stringify({ lease: String(id), ttl })}\n`;
  for (const { name, lock } of state.locks) {
    const record = {
      lock: name,
      token: lock.token,
      holder: lock.holder === 0 ? null : String(lock.holder),
      waiters: lock.waiters.map(String),
    };
    yield `${JSON.stringify(record)}\n`;
  }
  for (const event of state.events) {
    const value = event.value === null ? null : encodeBase64(event.value);
    yield `${JSON.stringify({ event: { revision: event.revision, op: event.op, key: event.key, value } })}\n`;
  }
}

/** The snapshot formats `writeSnapshot` writes. */
export type SnapshotFormat = 2 | 3;

/** Writes `state` in chunks of about `chunkBytes`, honouring the sink's backpressure. */
export async function writeSnapshot(
  sink: SnapshotSink,
  state: CapturedState,
  chunkBytes: number,
  format: SnapshotFormat = 3,
): Promise<void> {
  if (format === 3) return writeSnapshotV3(sink, state, chunkBytes);
  let pieces: string[] = [];
  let pending = 0;
  for (const line of snapshotLines(state)) {
    pieces.push(line);
    pending += line.length;
    if (pending >= chunkBytes) {
      await sink.write(Buffer.from(pieces.join(''), 'utf8'));
      pieces = [];
      pending = 0;
    }
  }
  if (pieces.length > 0) await sink.write(Buffer.from(pieces.join(''), 'utf8'));
}

/** Reads a snapshot of either version into a new store; throws ErrSnapshotCorrupt when it is damaged. */
export async function readSnapshot(
  reader: Readable,
  historyLimits: HistoryLimits,
  limits: SnapshotLimits,
): Promise<{ store: KvStore; version: 1 | 2 | 3 }> {
  const lines = new LineReader(reader, limits.maxLineBytes);
  try {
    const start = await lines.peekBytes(V3_MAGIC.length);
    if (start.subarray(0, V3_MAGIC.length).equals(V3_MAGIC)) {
      const source = lines.handOver(V3_MAGIC.length);
      return { store: await readSnapshotV3(source, historyLimits, limits.maxLineBytes), version: 3 };
    }
    // Version 2 starts with its header line; anything else is version 1.
    if (!/^\{"format":\d/.test((await lines.peek(12)).toString('latin1')))
      return { store: parseV1(await lines.rest(limits.maxV1Bytes), historyLimits), version: 1 };
    const restorer = new SnapshotRestorer(historyLimits);
    const records = new V2Records(restorer);
    records.header(parseLine((await lines.next())!, 1));
    for (let number = 2, line = await lines.next(); line !== null; number++, line = await lines.next())
      records.record(parseLine(line, number), number);
    return { store: restorer.finish(), version: 2 };
  } catch (error) {
    reader.destroy();
    if (error instanceof ErrDecode) throw new ErrSnapshotCorrupt(`kv snapshot: ${error.message}`);
    throw error;
  }
}

/** Lines of at most `maxLineBytes` from a stream, read one chunk at a time. */
class LineReader {
  private readonly chunks: AsyncIterator<unknown>;
  private pending: Buffer = Buffer.alloc(0);
  private ended = false;

  constructor(
    reader: Readable,
    private readonly maxLineBytes: number,
  ) {
    this.chunks = reader[Symbol.asyncIterator]();
  }

  /** At least `bytes` bytes (or a whole line, or everything there is), without consuming them. */
  async peek(bytes: number): Promise<Buffer> {
    while (this.pending.length < bytes && this.pending.indexOf(0x0a) < 0 && (await this.read()));
    return this.pending;
  }

  /** At least `bytes` bytes, or everything there is, without consuming them. */
  async peekBytes(bytes: number): Promise<Buffer> {
    while (this.pending.length < bytes && (await this.read()));
    return this.pending;
  }

  /** Hands what is buffered after `skip` bytes, and the chunks still to come, to a binary reader. */
  handOver(skip: number): BinarySource {
    const pending = this.pending.subarray(skip);
    this.pending = Buffer.alloc(0);
    return {
      pending,
      next: async () => {
        if (this.ended) return null;
        const { done, value } = await this.chunks.next();
        if (done === true) this.ended = true;
        return done === true ? null : toBuffer(value);
      },
    };
  }

  /** The next line without its newline; null at the end. */
  async next(): Promise<string | null> {
    for (;;) {
      const nl = this.pending.indexOf(0x0a);
      if (nl >= 0) {
        const line = this.pending.toString('utf8', 0, nl);
        this.pending = this.pending.subarray(nl + 1);
        return line;
      }
      if (this.pending.length > this.maxLineBytes)
        throw new ErrTooLarge(`kv snapshot line exceeds ${this.maxLineBytes} bytes`);
      if (!(await this.read())) {
        if (this.pending.length > 0) throw new ErrSnapshotCorrupt('kv snapshot ends in the middle of a line');
        return null;
      }
    }
  }

  /** Everything left, refused past `maxBytes`. */
  async rest(maxBytes: number): Promise<Buffer> {
    const parts = [this.pending];
    let total = this.pending.length;
    for (;;) {
      if (total > maxBytes) throw new ErrTooLarge(`kv snapshot exceeds ${maxBytes} bytes`);
      const { done, value } = await this.chunks.next();
      if (done === true) return Buffer.concat(parts, total);
      const chunk = toBuffer(value);
      parts.push(chunk);
      total += chunk.length;
    }
  }

  private async read(): Promise<boolean> {
    if (this.ended) return false;
    const { done, value } = await this.chunks.next();
    if (done === true) {
      this.ended = true;
      return false;
    }
    this.pending =
      this.pending.length === 0 ? toBuffer(value) : Buffer.concat([this.pending, toBuffer(value)]);
    return true;
  }
}

function toBuffer(chunk: unknown): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  // Kept only as views until restore copies what it keeps: no copy of the chunk itself.
  const bytes = chunk as Uint8Array;
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function parseLine(line: string, number: number): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new ErrDecode(`line ${number} is not JSON`);
  }
  return asObject(parsed, `line ${number}`);
}

/** Hands the records of a version 2 snapshot, checked as JSON, to the restorer. */
class V2Records {
  constructor(private readonly restorer: SnapshotRestorer) {}

  header(record: JsonObject): void {
    if (record.format !== 2) throw new ErrDecode(`unsupported format ${JSON.stringify(record.format)}`);
    this.restorer.header(record.revision as number, record.compactRevision as number);
  }

  record(record: JsonObject, number: number): void {
    const where = `line ${number}`;
    if ('k' in record) {
      const lease = record.l === undefined ? 0 : leaseIdField(record, 'l');
      const key = keyField(record, 'k');
      return this.restorer.key(key, base64Field(record, 'v'), record.r as number, lease, where);
    }
    if ('lease' in record) {
      return this.restorer.lease(leaseIdField(record, 'lease'), record.ttl as number, where);
    }
    if ('lock' in record) {
      const name = keyField(record, 'lock');
      const holder = record.holder === null ? 0 : leaseIdField(record, 'holder');
      const waiters = asArray(record.waiters, `${where} "waiters"`, Number.MAX_SAFE_INTEGER).map((id, i) =>
        checkLeaseId(id, `"waiters"[${i}]`),
      );
      return this.restorer.lock(name, holder, record.token as number, waiters, where);
    }
    if ('event' in record) {
      const event = asObject(record.event, `${where} "event"`);
      const value = nullableBase64Field(event, 'value');
      const key = keyField(event, 'key');
      return this.restorer.event(event.revision as number, event.op as string, key, value, where);
    }
    throw new ErrDecode(`${where} is not a key, lease, lock or event record`);
  }
}

function parseV1(bytes: Buffer, historyLimits: HistoryLimits): KvStore {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ErrSnapshotCorrupt('kv snapshot is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ErrSnapshotCorrupt('kv snapshot is not a JSON object');
  const store = new KvStore(historyLimits);
  for (const [key, text] of Object.entries(parsed)) {
    const value = typeof text === 'string' ? decodeBase64Strict(text) : null;
    if (value === null)
      throw new ErrSnapshotCorrupt(`kv snapshot value of ${JSON.stringify(key)} is not base64`);
    store.keys.set(key, { value, revision: 0, lease: 0 });
  }
  return store;
}
