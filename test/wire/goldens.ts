/**
 * Loads the Go-generated golden files (test/interop/golden/main.go) and turns their JSON values
 * into the TypeScript mirrors, so tests can compare both ways.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LogEntry } from '../../src/core/types.js';
import { Decoder } from '../../src/wire/decoder.js';
import { Encoder } from '../../src/wire/encoder.js';
import { readLog, writeLog } from '../../src/wire/log.js';
import * as read from '../../src/wire/messages-read.js';
import * as write from '../../src/wire/messages.js';

export interface GoldenCase {
  name: string;
  struct: string;
  frame?: 'request' | 'response';
  rpcType: number;
  error: string;
  value: unknown;
  appendedAtMs?: number[];
  decodeOnly?: boolean;
  hex: string;
}

export function loadGoldens(file: string): GoldenCase[] {
  const path = fileURLToPath(new URL(`./goldens/${file}`, import.meta.url));
  return JSON.parse(readFileSync(path, 'utf8')) as GoldenCase[];
}

export const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
export const toHex = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const fromBase64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

type Reader = (d: Decoder) => unknown;
type Writer = (enc: Encoder, m: never) => void;

export const READERS: Record<string, Reader> = {
  AppendEntriesRequest: read.readAppendEntriesRequest,
  AppendEntriesResponse: read.readAppendEntriesResponse,
  RequestVoteRequest: read.readRequestVoteRequest,
  RequestVoteResponse: read.readRequestVoteResponse,
  RequestPreVoteRequest: read.readRequestPreVoteRequest,
  RequestPreVoteResponse: read.readRequestPreVoteResponse,
  InstallSnapshotRequest: read.readInstallSnapshotRequest,
  InstallSnapshotResponse: read.readInstallSnapshotResponse,
  TimeoutNowRequest: read.readHeaderOnly,
  TimeoutNowResponse: read.readHeaderOnly,
  Log: readLog,
};

export const WRITERS: Record<string, Writer> = {
  AppendEntriesRequest: write.writeAppendEntriesRequest,
  AppendEntriesResponse: write.writeAppendEntriesResponse,
  RequestVoteRequest: write.writeRequestVoteRequest,
  RequestVoteResponse: write.writeRequestVoteResponse,
  RequestPreVoteRequest: write.writeRequestPreVoteRequest,
  RequestPreVoteResponse: write.writeRequestPreVoteResponse,
  InstallSnapshotRequest: write.writeInstallSnapshotRequest,
  InstallSnapshotResponse: write.writeInstallSnapshotResponse,
  TimeoutNowRequest: write.writeHeaderOnly,
  TimeoutNowResponse: write.writeHeaderOnly,
  Log: writeLog,
};

const BYTES_FIELDS = new Set(['ID', 'Addr', 'Leader', 'Candidate', 'Peers', 'Configuration']);

/** Go's zero value of a struct, obtained by decoding an empty map. */
function zeroOf(struct: string): Record<string, unknown> {
  const d = new Decoder();
  d.reset(Uint8Array.of(0x80), 0, 1);
  return READERS[struct](d) as Record<string, unknown>;
}

interface GoLogJson {
  Index: number;
  Term: number;
  Type: number;
  Data: string | null;
  Extensions: string | null;
}

function logFromJson(l: GoLogJson, appendedAt: number | undefined): LogEntry {
  return {
    index: l.Index,
    term: l.Term,
    type: l.Type,
    data: l.Data ? fromBase64(l.Data) : new Uint8Array(0),
    extensions: l.Extensions ? fromBase64(l.Extensions) : new Uint8Array(0),
    appendedAt: appendedAt ?? 0,
  };
}

/** The mirror a golden value should decode to (and, unless decodeOnly, encode from). */
export function expectedMirror(c: GoldenCase): unknown {
  if (c.value === null) return null;
  if (c.struct === 'Log') return logFromJson(c.value as GoLogJson, c.appendedAtMs?.[0]);
  const out = zeroOf(c.struct);
  for (const [key, v] of Object.entries(c.value as Record<string, unknown>)) {
    if (key === 'Entries') {
      out.Entries = v === null ? null : (v as GoLogJson[]).map((l, i) => logFromJson(l, c.appendedAtMs?.[i]));
    } else if (BYTES_FIELDS.has(key)) {
      out[key] = v === null ? null : fromBase64(v as string);
    } else {
      out[key] = v;
    }
  }
  return out;
}

/** Replaces byte arrays by hex text, so that a mismatch in a 64 KiB payload prints a short diff. */
export function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return `hex:${toHex(v)}`;
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  }
  return v;
}
