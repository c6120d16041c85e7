/** The history format the checker reads: one record per operation (see linearizability.ts). */
/** When an operation was called and returned, and by whom: the fields every kind shares. */
export interface KvTimed {
  /** When the client sent it, on one monotonic clock for the whole history (any unit). */
  start: number;
  /** When its answer arrived, on the same clock; Infinity for a write, cas or txn whose answer never came. */
  end: number;
  /** Who issued it, for reports. */
  client?: number;
}

/** A linearizable read of one key. */
export interface KvRead extends KvTimed {
  /** The kind of operation. */
  kind: 'read';
  /** The key read. */
  key: string;
  /** The value the read returned (undefined: absent). */
  value: string | undefined;
}

/** A put, or a delete (value undefined). */
export interface KvWrite extends KvTimed {
  /** The kind of operation. */
  kind: 'write';
  /** The key written. */
  key: string;
  /** The value written (undefined: a delete). */
  value: string | undefined;
}

/** A compare-and-set of one key. */
export interface KvCas extends KvTimed {
  /** The kind of operation. */
  kind: 'cas';
  /** The key compared and set. */
  key: string;
  /** The value the key must hold for the cas to take effect (undefined: the key must be absent). */
  expected: string | undefined;
  /** The value it sets. */
  value: string;
  /** Whether the precondition held; undefined exactly when the outcome is unknown (end Infinity). */
  succeeded?: boolean;
}

/** One key and its value, as a range returned it. */
export interface KvRangeItem {
  /** The key, under the range's prefix. */
  key: string;
  /** Its value. */
  value: string;
}

/** A linearizable read of every key under a prefix, at one instant, answered in one page. */
export interface KvRange extends KvTimed {
  /** The kind of operation. */
  kind: 'range';
  /** The prefix read ("" for every key). */
  prefix: string;
  /** Every key under the prefix that was present, with its value (any order, no duplicates). */
  items: readonly KvRangeItem[];
}

/** A txn compare: the key holds `value`, or the key exists (or not). */
export type KvCompare =
  | {
      /** The key compared. */
      key: string;
      /** The value it must hold. */
      value: string;
    }
  | {
      /** The key compared. */
      key: string;
      /** Whether it must be present (true) or absent (false). */
      exists: boolean;
    };

/** An update in a txn branch: a put or a delete. */
export type KvTxnOp =
  | {
      /** The kind of update. */
      op: 'put';
      /** The key set. */
      key: string;
      /** The value set. */
      value: string;
    }
  | {
      /** The kind of update. */
      op: 'delete';
      /** The key deleted. */
      key: string;
    };

/** A transaction: compares, then one branch of updates, atomically. */
export interface KvTxn extends KvTimed {
  /** The kind of operation. */
  kind: 'txn';
  /** All must hold for the success branch (an empty list always holds). */
  compare: readonly KvCompare[];
  /** Applied, in order, when every compare holds. */
  success: readonly KvTxnOp[];
  /** Applied, in order, when some compare does not hold. */
  failure: readonly KvTxnOp[];
  /** The branch taken (true: success); undefined exactly when the outcome is unknown. */
  succeeded?: boolean;
}

/** One operation of a key-value history: the format recorders write (see the module header). */
export type KvOperation = KvRead | KvWrite | KvCas | KvRange | KvTxn;
