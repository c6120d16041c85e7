/**
 * InmemSnapshotStore: hashicorp's in-memory snapshot store, for tests and the simulator. It keeps
 * only the latest snapshot, which becomes visible when its sink is closed.
 */
import { Readable } from 'node:stream';
import { ErrSnapshotNotFound, ErrSnapshotStore, ErrUnsupportedSnapshotVersion } from '../core/errors.js';
import type { Configuration, SnapshotMeta } from '../core/types.js';
import type { OpenedSnapshot, SnapshotSink, SnapshotStore } from './types.js';

/** Snapshot format versions a store can read (hashicorp's SnapshotVersionMin/Max); create() writes Max. */
export const SnapshotVersionMin = 0;
export const SnapshotVersionMax = 1;

/** Stores only create snapshots of the current format version, as hashicorp's do. */
export function checkCreateVersion(version: number): void {
  if (version !== SnapshotVersionMax) {
    throw new ErrUnsupportedSnapshotVersion(`${version} (only ${SnapshotVersionMax} can be created)`);
  }
}

/** A copy, so that callers cannot change a stored configuration through an alias. */
export function copyConfiguration(configuration: Configuration): Configuration {
  return { servers: configuration.servers.map((server) => ({ ...server })) };
}

export function copySnapshotMeta(meta: SnapshotMeta): SnapshotMeta {
  return { ...meta, configuration: copyConfiguration(meta.configuration) };
}

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

  async create(
    version: number,
    index: number,
    term: number,
    configuration: Configuration,
    configurationIndex: number,
  ): Promise<SnapshotSink> {
    checkCreateVersion(version);
    this.sequence++;
    const meta: SnapshotMeta = {
      version,
      id: `${term}-${index}-${this.sequence}`,
      index,
      term,
      configuration: copyConfiguration(configuration),
      configurationIndex,
      size: 0,
    };
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
    if (this.finished) throw new ErrSnapshotStore(`snapshot ${this.meta.id} is already closed`);
    if (!(chunk instanceof Uint8Array)) throw new ErrSnapshotStore('snapshot data must be a Uint8Array');
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
