/**
 * The keys of the store: a map from key to its current entry (value, revision, lease) beside the
 * ordered index (sorted-keys.ts) that ranges walk. Entries are never changed in place, only
 * replaced, so a snapshot may hold on to them while later commands apply.
 *
 * Snapshots are copy-on-write (`capture`): capturing shares the ordered index's chunks (each is
 * copied at its first change after it: SortedKeys.capture), and while a capture is open each key's
 * first change after it saves the entry it replaces. So a snapshot of any size is taken without a
 * pause of the event loop, and it costs memory only for what changes while it is written.
 */
import { RESERVED_PREFIX } from '../validate.js';
import { compareKeys, SortedKeys } from './sorted-keys.js';

export interface KeyEntry {
  readonly value: Buffer;
  /** The log index of the command that last changed the key (its mod revision). */
  readonly revision: number;
  /** The lease the key is attached to, 0 for none. */
  readonly lease: number;
}

export interface RangeQuery {
  prefix: string;
  /** Only keys strictly after this one (paging). */
  after?: string;
  limit: number;
  /** Stop once this many value bytes are collected (always at least one item). */
  maxValueBytes: number;
}

export interface RangeResult {
  items: [string, KeyEntry][];
  /** More keys under the prefix follow the last item. */
  more: boolean;
}

/** Just past every reserved key in UTF-8 order ('0' follows '/'). */
const AFTER_RESERVED = RESERVED_PREFIX.slice(0, -1) + '0';

/** The keys and entries as they were at `Keyspace.capture`, in UTF-8 order. */
export interface KeyspaceCapture extends Iterable<[string, KeyEntry]> {
  readonly size: number;
  /** Stops saving replaced entries for it. */
  release(): void;
}

export class Keyspace {
  private readonly entries = new Map<string, KeyEntry>();
  private readonly order = new SortedKeys();
  /** Per open capture: the entries replaced since it was taken (undefined: the key was absent). */
  private readonly captures = new Set<Map<string, KeyEntry | undefined>>();

  get size(): number {
    return this.entries.size;
  }

  get(key: string): KeyEntry | undefined {
    return this.entries.get(key);
  }

  /**
   * Sets the entry of `key` and returns the one it replaces. An overwrite is two lookups of the
   * map and leaves the ordered index alone; only a new key is inserted there.
   */
  set(key: string, entry: KeyEntry): KeyEntry | undefined {
    const old = this.entries.get(key);
    if (this.captures.size > 0) this.saveForCaptures(key, old);
    if (old === undefined) this.order.insert(key);
    this.entries.set(key, entry);
    return old;
  }

  /** Sets `key` if it sorts after every key held (see SortedKeys.appendIfLast); false otherwise. */
  appendIfLast(key: string, entry: KeyEntry): boolean {
    if (this.captures.size > 0) this.saveForCaptures(key, this.entries.get(key));
    if (!this.order.appendIfLast(key)) return false;
    this.entries.set(key, entry);
    return true;
  }

  delete(key: string): KeyEntry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (this.captures.size > 0) this.saveForCaptures(key, entry);
    this.entries.delete(key);
    this.order.delete(key);
    return entry;
  }

  /**
   * Keys under `prefix` in UTF-8 order, at most `limit` of them. Reserved keys appear only when the
   * prefix itself is reserved; the walk jumps over their block instead of filtering it.
   */
  range(query: RangeQuery): RangeResult {
    const { prefix, after, limit, maxValueBytes } = query;
    const withReserved = prefix.startsWith(RESERVED_PREFIX);
    const items: [string, KeyEntry][] = [];
    let bytes = 0;
    let start = prefix;
    let exclusive = false;
    if (after !== undefined && compareKeys(after, prefix) >= 0) {
      start = after;
      exclusive = true;
    }
    for (;;) {
      let jumped = false;
      for (const key of this.order.from(start, exclusive)) {
        if (!key.startsWith(prefix)) return { items, more: false };
        if (!withReserved && key.startsWith(RESERVED_PREFIX)) {
          start = AFTER_RESERVED;
          exclusive = false;
          jumped = true;
          break;
        }
        if (items.length >= limit || (items.length > 0 && bytes >= maxValueBytes))
          return { items, more: true };
        const entry = this.entries.get(key)!;
        items.push([key, entry]);
        bytes += entry.value.length;
      }
      if (!jumped) return { items, more: false };
    }
  }

  /** Every key and entry as of now, in UTF-8 order, unchanged by later commands (see the module comment). */
  capture(): KeyspaceCapture {
    const replaced = new Map<string, KeyEntry | undefined>();
    this.captures.add(replaced);
    const chunks = this.order.capture();
    const entries = this.entries;
    return {
      size: entries.size,
      *[Symbol.iterator]() {
        for (const chunk of chunks) {
          for (const key of chunk) yield [key, (replaced.has(key) ? replaced.get(key) : entries.get(key))!];
        }
      },
      release: () => {
        this.captures.delete(replaced);
        replaced.clear();
      },
    };
  }

  /** Saves `current`, the entry of `key`, for each open capture it has not changed for yet. */
  private saveForCaptures(key: string, current: KeyEntry | undefined): void {
    for (const replaced of this.captures) {
      if (!replaced.has(key)) replaced.set(key, current);
    }
  }
}
