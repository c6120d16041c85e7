/**
 * hashicorp's Log struct. The core LogEntry is its mirror: an empty `data` or `extensions` is Go's
 * nil slice (so an empty non-nil slice from Go reads back as empty and is re-sent as nil).
 * Latest keys: AppendedAt, Data, Extensions, Index, Term, Type; raft 1.1.2 sends no AppendedAt.
 */
import { ErrDecode } from '../core/errors.js';
import type { LogEntry, LogType } from '../core/types.js';
import type { Decoder } from './decoder.js';
import { EMPTY_BYTES, type Encoder } from './encoder.js';
import { readGoTime, writeGoTime } from './time.js';
import { structKeys } from './keys.js';

const LOG_KEYS = structKeys('AppendedAt', 'Data', 'Extensions', 'Index', 'Term', 'Type');

/**
 * Bytes one Log map takes besides its data and extensions, at most: the six keys, AppendedAt, three
 * numbers and two length prefixes (1 + 43 + 18 + 3 * 9 + 2 * 5 = 99, rounded up).
 */
export const LOG_WIRE_OVERHEAD = 128;

/** The most bytes `entry` takes inside an AppendEntries frame. */
export function logWireBound(entry: Pick<LogEntry, 'data' | 'extensions'>): number {
  return LOG_WIRE_OVERHEAD + entry.data.length + entry.extensions.length;
}

export function writeLog(enc: Encoder, e: LogEntry): void {
  enc.writeMapHeader(6);
  enc.writeVerbatim(LOG_KEYS[0]);
  writeGoTime(enc, e.appendedAt);
  enc.writeVerbatim(LOG_KEYS[1]);
  if (e.data.length === 0) enc.writeNil();
  else enc.writeBytes(e.data);
  enc.writeVerbatim(LOG_KEYS[2]);
  if (e.extensions.length === 0) enc.writeNil();
  else enc.writeBytes(e.extensions);
  enc.writeVerbatim(LOG_KEYS[3]);
  enc.writeUint(e.index);
  enc.writeVerbatim(LOG_KEYS[4]);
  enc.writeUint(e.term);
  enc.writeVerbatim(LOG_KEYS[5]);
  enc.writeUint(e.type);
}

/** Reads a Log map; nil gives the zero Log (as Go's decoder does for a nil *Log). */
export function readLog(d: Decoder): LogEntry {
  let appendedAt = 0;
  let data = EMPTY_BYTES;
  let extensions = EMPTY_BYTES;
  let index = 0;
  let term = 0;
  let type = 0;
  let n = d.readMapHeader();
  for (let hint = 0; n > 0; n--) {
    const k = d.readKey(LOG_KEYS, hint);
    hint = k + 1;
    switch (k) {
      case 0:
        appendedAt = readGoTime(d);
        break;
      case 1:
        data = d.readBytes();
        break;
      case 2:
        extensions = d.readBytes();
        break;
      case 3:
        index = d.readUint();
        break;
      case 4:
        term = d.readUint();
        break;
      case 5:
        type = d.readUint();
        if (type > 0xff) throw new ErrDecode(`log type ${type} does not fit a uint8`);
        break;
      default:
        d.skip();
    }
  }
  return { index, term, type: type as LogType, data, extensions, appendedAt };
}
