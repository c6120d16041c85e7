/**
 * Reading log entries back from WalStore's segments: each entry is found through the entry table
 * (wal-index.ts), read with one pread per run of entries in the same segment, and its record's
 * checksum checked before it is decoded.
 */
import { ErrLogNotFound, ErrStoreCorrupt, ErrStoreRead, RaftError } from '../core/errors.js';
import type { LogEntry } from '../core/types.js';
import { readFully } from './file-system.js';
import { decodeLogEntry } from './log-codec.js';
import { readEntryRecord } from './wal-format.js';
import type { EntryLocation } from './wal-index.js';
import { segmentName, type Segment } from './wal-segments.js';

/** Entries `lo`, `lo + 1`, ... found at `locations` (taken from the table before any await). */
export async function readEntries(
  segments: () => readonly Segment[],
  lo: number,
  locations: readonly EntryLocation[],
): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  let i = 0;
  while (i < locations.length) {
    // Entries of one segment lie in index order: read them with one pread.
    let j = i;
    while (j + 1 < locations.length && locations[j + 1].segment === locations[i].segment) j++;
    const start = locations[i].offset;
    const span = await readSpan(
      segments(),
      locations[i].segment,
      start,
      locations[j].offset + locations[j].length - start,
    );
    for (let k = i; k <= j; k++) {
      const { offset, length } = locations[k];
      out.push(decodeEntry(span.subarray(offset - start, offset - start + length), lo + k, locations[k]));
    }
    i = j + 1;
  }
  return out;
}

async function readSpan(
  segments: readonly Segment[],
  number: number,
  offset: number,
  length: number,
): Promise<Buffer> {
  const segment = segments.find((candidate) => candidate.number === number);
  const buffer = Buffer.allocUnsafe(length);
  let got: number;
  try {
    if (!segment || segment.closed) throw new ErrLogNotFound();
    got = await readFully(segment.file, buffer, 0, length, offset);
  } catch (error) {
    // Compaction closed the segment while the read was in flight: the entries are gone.
    if (segment?.closed || error instanceof ErrLogNotFound) throw new ErrLogNotFound();
    if (error instanceof RaftError) throw error;
    throw new ErrStoreRead(`${segment!.path} at offset ${offset}: ${(error as Error).message}`);
  }
  if (got !== length) {
    throw new ErrStoreCorrupt(`${segment.path}: ${got} of ${length} bytes at offset ${offset}`);
  }
  return buffer;
}

function decodeEntry(bytes: Buffer, index: number, location: EntryLocation): LogEntry {
  const where = `${segmentName(location.segment)} at offset ${location.offset}`;
  return decodeLogEntry(readEntryRecord(bytes, where), index);
}
