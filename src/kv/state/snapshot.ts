/**
 * The KV snapshot format (docs/kv-contract.md). Version 2 is newline-delimited JSON, one record per
 * line in a fixed order (header, keys in UTF-8 order, leases by ID, locks by name, the history
 * oldest first), so that it streams both ways with bounded memory and two replicas with the same
 * state write the same bytes. Version 1 (one JSON object of base64 values) still restores.
 */
import type { Readable } from 'node:stream';
import { ErrDecode, ErrSnapshotCorrupt, ErrTooLarge, type SnapshotSink } from '../../index.js';
import {
  asArray,
  asObject,
  base64Field,
  decodeBase64Strict,
  encodeBase64,
  intField,
  keyField,
  leaseIdField,
  checkLeaseId,
  nullableBase64Field,
  type JsonObject,
} from '../json-fields.js';
import { MAX_TTL, MIN_TTL } from '../commands.js';
import type { HistoryLimits, WatchEvent } from './history.js';
import type { KeyEntry } from './keyspace.js';
import { compareKeys } from './sorted-keys.js';
import { KvStore, type LockState } from './store.js';

export interface SnapshotLimits {
  /** Longest line of a version 2 snapshot, in bytes. */
  maxLineBytes: number;
  /** Largest version 1 snapshot (it is one JSON object, parsed in memory), in bytes. */
  maxV1Bytes: number;
}

/** An immutable view of the store, taken between two commands and written out later. */
export interface CapturedState {
  revision: number;
  compactRevision: number;
  keys: [string, KeyEntry][];
  leases: { id: number; ttl: number }[];
  locks: { name: string; lock: LockState }[];
  events: WatchEvent[];
}

export function captureState(store: KvStore): CapturedState {
  return {
    revision: store.revision,
    compactRevision: store.history.compactRevision,
    keys: store.keys.sorted(),
    leases: [...store.leases.values()].map(({ id, ttl }) => ({ id, ttl })).sort((a, b) => a.id - b.id),
    locks: [...store.locks.entries()]
      .map(([name, lock]) => ({ name, lock: { ...lock, waiters: [...lock.waiters] } }))
      .sort((a, b) => compareKeys(a.name, b.name)),
    events: store.history.toArray(),
  };
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

/** Writes the lines in chunks of about `chunkBytes`, honouring the sink's backpressure. */
export async function writeSnapshot(
  sink: SnapshotSink,
  state: CapturedState,
  chunkBytes: number,
): Promise<void> {
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
): Promise<{ store: KvStore; version: 1 | 2 }> {
  const lines = new LineReader(reader, limits.maxLineBytes);
  try {
    // Version 2 starts with its header line; anything else is version 1.
    if (!/^\{"format":\d/.test((await lines.peek(12)).toString('latin1')))
      return { store: parseV1(await lines.rest(limits.maxV1Bytes), historyLimits), version: 1 };
    const restorer = new V2Restorer(historyLimits);
    restorer.header(parseLine((await lines.next())!, 1));
    for (let number = 2, line = await lines.next(); line !== null; number++, line = await lines.next())
      restorer.record(parseLine(line, number), number);
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
  return typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk as Uint8Array);
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

class V2Restorer {
  private store: KvStore;
  private lastEvent = 0;
  private readonly keyLeases: [string, number][] = [];
  private readonly lockLines: { name: string; lock: LockState }[] = [];

  constructor(historyLimits: HistoryLimits) {
    this.store = new KvStore(historyLimits);
  }

  header(record: JsonObject): void {
    if (record.format !== 2) throw new ErrDecode(`unsupported format ${JSON.stringify(record.format)}`);
    this.store.revision = intField(record, 'revision', 0, Number.MAX_SAFE_INTEGER);
    this.store.history.compactRevision = intField(record, 'compactRevision', 0, this.store.revision);
    this.lastEvent = this.store.history.compactRevision;
  }

  record(record: JsonObject, number: number): void {
    const where = `line ${number}`;
    if ('k' in record) return this.key(record, where);
    if ('lease' in record) {
      const id = leaseIdField(record, 'lease');
      if (this.store.leases.has(id)) throw new ErrDecode(`${where}: lease ${id} appears twice`);
      this.store.leases.set(id, {
        id,
        ttl: intField(record, 'ttl', MIN_TTL, MAX_TTL),
        keys: new Set(),
        lock: null,
      });
      return;
    }
    if ('lock' in record) return this.lock(record, where);
    if ('event' in record) return this.event(asObject(record.event, `${where} "event"`), where);
    throw new ErrDecode(`${where} is not a key, lease, lock or event record`);
  }

  finish(): KvStore {
    const { store } = this;
    for (const [key, id] of this.keyLeases) {
      const lease = store.leases.get(id);
      if (lease === undefined) throw new ErrDecode(`key ${JSON.stringify(key)} names missing lease ${id}`);
      lease.keys.add(key);
    }
    for (const { name, lock } of this.lockLines) {
      for (const id of lock.holder === 0 ? lock.waiters : [lock.holder, ...lock.waiters]) {
        const lease = store.leases.get(id);
        if (lease === undefined || lease.lock !== null)
          throw new ErrDecode(`lock ${JSON.stringify(name)} names missing or shared lease ${id}`);
        store.leases.set(id, { ...lease, lock: name });
      }
      store.locks.set(name, lock);
    }
    store.history.trim(store.revision);
    return store;
  }

  private key(record: JsonObject, where: string): void {
    const key = keyField(record, 'k');
    if (this.store.keys.get(key) !== undefined) throw new ErrDecode(`${where}: key appears twice`);
    const lease = record.l === undefined ? 0 : leaseIdField(record, 'l');
    const revision = intField(record, 'r', 0, this.store.revision);
    this.store.keys.set(key, { value: base64Field(record, 'v'), revision, lease });
    if (lease !== 0) this.keyLeases.push([key, lease]);
  }

  private lock(record: JsonObject, where: string): void {
    const name = keyField(record, 'lock');
    if (this.lockLines.some((line) => line.name === name))
      throw new ErrDecode(`${where}: lock appears twice`);
    const holder = record.holder === null ? 0 : leaseIdField(record, 'holder');
    const token =
      holder === 0 ? intField(record, 'token', 0, 0) : intField(record, 'token', 1, this.store.revision);
    const waiters = asArray(record.waiters, `${where} "waiters"`, Number.MAX_SAFE_INTEGER).map((id, i) =>
      checkLeaseId(id, `"waiters"[${i}]`),
    );
    if (holder === 0 && waiters.length > 0) throw new ErrDecode(`${where}: a free lock has waiters`);
    this.lockLines.push({ name, lock: { holder, token, waiters } });
  }

  private event(record: JsonObject, where: string): void {
    const revision = intField(record, 'revision', this.lastEvent, this.store.revision);
    if (revision === this.store.history.compactRevision)
      throw new ErrDecode(`${where}: event at or before the compact revision`);
    const op = record.op;
    if (op !== 'put' && op !== 'delete') throw new ErrDecode(`${where}: "op" must be "put" or "delete"`);
    const value = nullableBase64Field(record, 'value');
    if ((op === 'put') !== (value !== null))
      throw new ErrDecode(`${where}: a put has a value, a delete null`);
    this.store.history.push({ revision, op, key: keyField(record, 'key'), value });
    this.lastEvent = revision;
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
