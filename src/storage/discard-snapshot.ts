/**
 * DiscardSnapshotStore: hashicorp's store for nodes that never keep snapshots. Sinks accept and
 * drop everything, list() is always empty and open() fails.
 */
import { ErrSnapshotNotFound } from '../core/errors.js';
import type { SnapshotMeta } from '../core/types.js';
import { sinkWriteRefusal } from './snapshot-meta.js';
import type { OpenedSnapshot, SnapshotSink, SnapshotStore } from './types.js';

/** hashicorp's DiscardSnapshotSink reports this ID. */
export const DISCARD_SNAPSHOT_ID = 'discard';

/**
 * hashicorp's DiscardSnapshotStore: snapshots are accepted and dropped, none can be opened. For
 * nodes that never need to restore or send one (a log that is never compacted past what a
 * follower needs).
 */
export class DiscardSnapshotStore implements SnapshotStore {
  async create(): Promise<SnapshotSink> {
    return new DiscardSnapshotSink();
  }

  async list(): Promise<SnapshotMeta[]> {
    return [];
  }

  async open(id: string): Promise<OpenedSnapshot> {
    throw new ErrSnapshotNotFound(`${id} (the discard snapshot store keeps no snapshots)`);
  }
}

class DiscardSnapshotSink implements SnapshotSink {
  readonly id = DISCARD_SNAPSHOT_ID;
  private finished = false;

  async write(chunk: Uint8Array): Promise<void> {
    const refusal = sinkWriteRefusal(this.id, this.finished, chunk);
    if (refusal) throw refusal;
  }

  async close(): Promise<void> {
    this.finished = true;
  }

  async cancel(): Promise<void> {
    this.finished = true;
  }
}
