/**
 * InmemSnapshotStore: hashicorp's in-memory snapshot store, for tests and the simulator. It keeps
 * only the latest snapshot, which becomes visible when its sink is closed.
 */
import { Readable } from 'node:stream';
import { ErrSnapshotNotFound } from '../core/errors.js';
import type { SnapshotMeta } from '../core/types.js';
import {
  copySnapshotMeta,
  newSnapshotMeta,
  sinkWriteRefusal,
  type SnapshotCreateArgs,
} from './snapshot-meta.js';
import type { OpenedSnapshot, SnapshotSink, SnapshotStore } from './types.js';

interface StoredSnapshot {
  meta: SnapshotMeta;
  chunks: readonly Buffer[];
}

/**
 * hashicorp's InmemSnapshotStore: keeps only the latest snapshot, in memory. For tests; nothing
 * survives the process.
 */
export class InmemSnapshotStore implements SnapshotStore {
  private latest: StoredSnapshot | undefined;
  // A counter instead of the time keeps IDs unique and runs deterministic in the simulator.
  private sequence = 0;

  async create(...args: SnapshotCreateArgs): Promise<SnapshotSink> {
    const [, index, term] = args;
    const meta = newSnapshotMeta(`${term}-${index}-${++this.sequence}`, ...args);
    return new InmemSnapshotSink(meta, (snapshot) => {
      // Keep the newest by (index, term), like the file store's listing order: a slow local
      // snapshot finishing after a newer one installed from the leader must not replace it.
      const current = this.latest?.meta;
      const newer =
        !current ||
        snapshot.meta.index > current.index ||
        (snapshot.meta.index === current.index && snapshot.meta.term >= current.term);
      if (newer) this.latest = snapshot;
    });
  }

  async list(): Promise<SnapshotMeta[]> {
    return this.latest === undefined ? [] : [copySnapshotMeta(this.latest.meta)];
  }

  async open(id: string): Promise<OpenedSnapshot> {
    const latest = this.latest;
    if (latest === undefined || latest.meta.id !== id) throw new ErrSnapshotNotFound(id);
    // The chunks never change after close, so readers can share them.
    return {
      meta: copySnapshotMeta(latest.meta),
      reader: Readable.from(latest.chunks, { objectMode: false }),
    };
  }
}

class InmemSnapshotSink implements SnapshotSink {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private finished = false;

  constructor(
    private readonly meta: SnapshotMeta,
    private readonly publish: (snapshot: StoredSnapshot) => void,
  ) {}

  get id(): string {
    return this.meta.id;
  }

  async write(chunk: Uint8Array): Promise<void> {
    const refusal = sinkWriteRefusal(this.meta.id, this.finished, chunk);
    if (refusal) throw refusal;
    // Copied: the caller may reuse its buffer once the write resolves.
    this.chunks.push(Buffer.from(chunk));
    this.size += chunk.length;
  }

  async close(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.publish({ meta: { ...this.meta, size: this.size }, chunks: this.chunks });
  }

  async cancel(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.chunks.length = 0;
  }
}
