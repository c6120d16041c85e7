/**
 * WalStore's durable state and how it is rebuilt at open: replaying each segment's complete
 * groups in order (see wal-format.ts for records and groups, wal.ts for the store).
 */
import { ErrStoreCorrupt } from '../core/errors.js';
import { decodeUint64 } from './log-codec.js';
import {
  RECORD_OVERHEAD,
  RecordType,
  decodeHeaderPayload,
  decodeIndexPayload,
  decodeStablePayload,
  scanRecords,
  type ScannedRecord,
} from './wal-format.js';
import { EntryTable } from './wal-index.js';

/** The durable state, rebuilt at open by replaying groups and kept up to date after each group. */
export class WalState {
  readonly table = new EntryTable();
  readonly stable = new Map<string, Buffer>();
  groupNumber = 0;

  /**
   * Applies the complete groups of one segment; returns the end of the last one (0: none). Damage
   * in a sealed segment, or damage followed by an intact group, is ErrStoreCorrupt.
   */
  replaySegment(bytes: Buffer, number: number, path: string, newest: boolean): number {
    const { records, stop } = scanRecords(bytes);
    let group: ScannedRecord[] = [];
    let end = 0;
    for (const record of records) {
      if (end === 0 && group.length === 0) {
        if (record.type !== RecordType.Header)
          throw new ErrStoreCorrupt(`${path}: does not start with a header`);
        const found = decodeHeaderPayload(record.payload, path);
        if (found !== number) throw new ErrStoreCorrupt(`${path}: header names segment ${found}`);
      }
      group.push(record);
      if (record.type === RecordType.Commit) {
        this.applyGroup(group, number, path);
        end = record.offset + record.length;
        group = [];
      }
    }
    if (end < bytes.length) {
      const why = stop ? `${stop.why} at offset ${stop.offset}` : 'a group without its commit';
      if (!newest) throw new ErrStoreCorrupt(`${path}: sealed segment is damaged: ${why}`);
      const intact = findCommitAfter(bytes, stop?.offset ?? bytes.length, this.groupNumber);
      if (intact >= 0) {
        throw new ErrStoreCorrupt(`${path}: ${why}, yet a complete group follows at offset ${intact}`);
      }
    }
    return end;
  }

  private applyGroup(group: readonly ScannedRecord[], segment: number, path: string): void {
    for (const record of group) {
      const where = `${path} at offset ${record.offset}`;
      switch (record.type) {
        case RecordType.Entry: {
          // The index sits at bytes 2..10 of an encoded entry; reads decode and check the rest.
          if (record.payload.length < 10) throw new ErrStoreCorrupt(`${where}: entry too short`);
          const index = decodeUint64(record.payload.subarray(2, 10), where);
          const last = this.table.last();
          if (last !== 0 && index !== last + 1) {
            throw new ErrStoreCorrupt(`${where}: entry ${index} does not follow ${last}`);
          }
          this.table.push(index, segment, record.offset, record.length);
          break;
        }
        case RecordType.Stable: {
          const { key, value } = decodeStablePayload(record.payload, where);
          this.stable.set(key, value);
          break;
        }
        case RecordType.Truncate:
          this.table.truncateFrom(decodeIndexPayload(record.payload, where));
          break;
        case RecordType.Head:
          this.table.dropBefore(decodeIndexPayload(record.payload, where));
          break;
        case RecordType.Commit:
          this.groupNumber = decodeIndexPayload(record.payload, where);
          break;
        case RecordType.Header:
          break;
      }
    }
  }
}

/**
 * The offset of an intact Commit record after `from` that closes a group later than `applied`, or
 * -1. Only the group being written can be torn (each group is synced before the next is written),
 * so such a commit behind the damage means the damage is not a torn tail. (Entry data that embeds
 * a well-formed commit record with the next group number would make a torn tail look like
 * damage: the store then refuses to open instead of losing anything.)
 */
function findCommitAfter(bytes: Buffer, from: number, applied: number): number {
  const commitLength = RECORD_OVERHEAD + 8;
  for (let at = from + 1; at + commitLength <= bytes.length; at++) {
    if (bytes[at + 4] !== RecordType.Commit || bytes.readUInt32BE(at) !== 8) continue;
    const { records } = scanRecords(bytes.subarray(at, at + commitLength));
    if (
      records.length === 1 &&
      records[0].payload.readUInt32BE(0) * 2 ** 32 + records[0].payload.readUInt32BE(4) > applied
    ) {
      return at;
    }
  }
  return -1;
}
