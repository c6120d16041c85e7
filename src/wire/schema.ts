/**
 * Go structs as data: a schema names each field and its kind, and one reader and one writer
 * serve every struct. The writer emits every field, keys sorted by byte value as Go does; the
 * reader starts from Go's zero value, skips unknown keys, leaves missing ones at zero and reads a
 * nil map as the zero struct, so older peers' shapes decode too.
 */
import { ErrTooLarge } from '../core/errors.js';
import type { LogEntry } from '../core/types.js';
import type { Decoder } from './decoder.js';
import type { Encoder } from './encoder.js';
import { structKeys } from './keys.js';
import { readLog, writeLog } from './log.js';

/** How one field kind is read, written and zeroed. */
interface FieldCodec<V> {
  readonly zero: V;
  read(d: Decoder): V;
  write(enc: Encoder, v: V): void;
}

function readLogs(d: Decoder): LogEntry[] | null {
  const count = d.readArrayHeader();
  if (count < 0) return null;
  if (count > d.limits.maxEntries) throw new ErrTooLarge(`${count} entries (at most ${d.limits.maxEntries})`);
  const entries = new Array<LogEntry>(count);
  for (let i = 0; i < count; i++) entries[i] = readLog(d);
  return entries;
}

function writeLogs(enc: Encoder, entries: LogEntry[] | null): void {
  if (entries === null) {
    enc.writeNil();
    return;
  }
  enc.writeArrayHeader(entries.length);
  for (let i = 0; i < entries.length; i++) writeLog(enc, entries[i]);
}

function kind<V>(zero: V, read: (d: Decoder) => V, write: (enc: Encoder, v: V) => void): FieldCodec<V> {
  return { zero, read, write };
}

const KINDS = {
  /** Go's uint64: negative input is an ErrDecode. */
  uint: kind(
    0,
    (d) => d.readUint(),
    (enc, v) => enc.writeUint(v),
  ),
  /** Go's int/int64. */
  int: kind(
    0,
    (d) => d.readInt(),
    (enc, v) => enc.writeInt(v),
  ),
  bool: kind(
    false,
    (d) => d.readBool(),
    (enc, v) => enc.writeBool(v),
  ),
  /** Go's []byte, nil (null) kept apart from empty. */
  nullableBytes: kind<Uint8Array | null>(
    null,
    (d) => d.readNullableBytes(),
    (enc, v) => enc.writeNullableBytes(v),
  ),
  /** Go's []*Log: nil is null. */
  logs: kind<LogEntry[] | null>(null, readLogs, writeLogs),
};

type FieldKind = keyof typeof KINDS;
type ValueOf<K extends FieldKind> = (typeof KINDS)[K] extends FieldCodec<infer V> ? V : never;
/** The kinds whose value type is exactly V (number allows both uint and int). */
type KindOf<V> = {
  [K in FieldKind]: [V] extends [ValueOf<K>] ? ([ValueOf<K>] extends [V] ? K : never) : never;
}[FieldKind];

/** One kind per field of T, every field present: the compiler keeps schema and type in step. */
export type StructFields<T> = { readonly [F in keyof T]-?: KindOf<T[F]> };

export interface StructSchema<T> {
  /** Field names in wire order. */
  readonly names: readonly string[];
  /** The encoded keys, parallel to names. */
  readonly keys: readonly Uint8Array[];
  readonly codecs: readonly FieldCodec<unknown>[];
  /** Go's zero value; copied, never handed out. */
  readonly zero: Readonly<T>;
}

export function defineStruct<T>(fields: StructFields<T>): StructSchema<T> {
  const names = Object.keys(fields).sort();
  const byName = fields as Readonly<Record<string, FieldKind>>;
  const codecs = names.map((name) => KINDS[byName[name]] as FieldCodec<unknown>);
  const zero: Record<string, unknown> = {};
  names.forEach((name, i) => (zero[name] = codecs[i].zero));
  return { names, keys: structKeys(...names), codecs, zero: zero as T };
}

export function writeStruct<T>(enc: Encoder, schema: StructSchema<T>, m: T): void {
  const { names, keys, codecs } = schema;
  const fields = m as Record<string, unknown>;
  enc.writeMapHeader(keys.length);
  for (let i = 0; i < keys.length; i++) {
    enc.writeVerbatim(keys[i]);
    codecs[i].write(enc, fields[names[i]]);
  }
}

export function readStruct<T>(d: Decoder, schema: StructSchema<T>): T {
  const { names, keys, codecs } = schema;
  const m = { ...schema.zero } as T;
  const fields = m as Record<string, unknown>;
  let n = d.readMapHeader();
  for (let hint = 0; n > 0; n--) {
    const k = d.readKey(keys, hint);
    hint = k + 1;
    if (k < 0) d.skip();
    else fields[names[k]] = codecs[k].read(d);
  }
  return m;
}

/** The exported per-struct writer, for callers that hold a struct of a known type. */
export function structWriter<T>(schema: StructSchema<T>): (enc: Encoder, m: T) => void {
  return (enc, m) => writeStruct(enc, schema, m);
}

/** The exported per-struct reader. */
export function structReader<T>(schema: StructSchema<T>): (d: Decoder) => T {
  return (d) => readStruct(d, schema);
}
