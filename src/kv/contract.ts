/**
 * The JSON bodies of the KV service's HTTP contract (DESIGN.md, docs/kv-contract.md), as types only:
 * the server writes them, the demo's dashboard and the command-line client read them, and so can
 * `raftkit/client` (src/client), which may import nothing else from the project. Keep this file free
 * of imports and runtime code.
 */

/** A server's Raft state as `/status` names it. */
export type ServerStateName = 'Follower' | 'Candidate' | 'Leader' | 'Shutdown';
/** Whether a member votes. */
export type SuffrageName = 'Voter' | 'Nonvoter';

/** One server of the latest configuration. */
export interface StatusMember {
  /** The member's server ID. */
  id: string;
  /** The member's Raft transport address. */
  address: string;
  /** Voter or non-voter. */
  suffrage: SuffrageName;
}

/** `GET /status`. */
export interface StatusBody {
  /** This server's ID. */
  id: string;
  /** Its Raft state. */
  state: ServerStateName;
  /** Its current term. */
  term: number;
  /** Unknown fields are empty strings (as hashicorp's LeaderWithID) so that clients can always index them. */
  leader: {
    /** The leader's server ID. */
    id: string;
    /** Its Raft address. */
    address: string;
    /** Its HTTP API base URL. */
    http: string;
  };
  /** The last log index here. */
  lastIndex: number;
  /** The commit index known here. */
  commitIndex: number;
  /** The last index applied here. */
  appliedIndex: number;
  /** The index of the last snapshot here. */
  lastSnapshotIndex: number;
  /** This server was removed from the cluster: its KV routes answer 410 until it is added back. */
  removed: boolean;
  /** The latest configuration's members. */
  configuration: StatusMember[];
  /** The store revision: the log index of the last command applied here. */
  revision: number;
  /** Open watch streams on this server. */
  watchers: number;
  /** Leases and locks (with a holder or waiters) in this server's applied state. */
  leases: number;
  /** Locks with a holder or waiters here. */
  locks: number;
}

/**
 * `POST /cluster/join`: `http` is `host:port` or `http(s)://host:port`; `voter` defaults to true;
 * `replace: true` changes the addresses of an existing member (409 without it).
 */
export interface JoinBody {
  id: string;
  address: string;
  http: string;
  voter?: boolean;
  replace?: boolean;
  /** The log command forms the joiner reads (`["json","binary"]`); absent: JSON only. */
  formats?: string[];
}

/** `POST /cluster/formats`: member `id` reads these log command forms (admin, leader). */
export interface FormatsBody {
  id: string;
  formats: string[];
}

/** `POST /cluster/transfer`: to `id`, or to the most up-to-date voter when absent. */
export interface TransferBody {
  id?: string;
}

/** `200` of `PUT`, `DELETE` and `POST ?cas` on `/kv/{key}`: the command's log index, which is the key's new revision. */
export interface WriteBody {
  index: number;
  revision: number;
}

/**
 * Every refusal. `412` of a conditional write adds the `index`, the key's current `revision` and,
 * for a value condition, its base64 `current` value (null: absent); `410` of a watch adds
 * `compactRevision`; `404` of a missing lease adds `lease`.
 */
export interface ErrorBody {
  /** Why, in words. */
  error: string;
  /** `412`: the store revision when the condition was checked. */
  index?: number;
  /** `412`: the key's current revision (0: absent). */
  revision?: number;
  /** `412` of a value condition: the current value, base64 (null: absent). */
  current?: string | null;
  /** `410`: the oldest revision a watch can start after. */
  compactRevision?: number;
  /** `404` of a missing lease: its ID. */
  lease?: string;
}

/** One key of `GET /kv?prefix=`. */
export interface RangeItem {
  key: string;
  /** Base64. */
  value: string;
  revision: number;
}

/** `GET /kv?prefix=P&limit=N[&after=K]`: read at store revision `revision`; `more` when keys follow. */
export interface RangeBody {
  revision: number;
  items: RangeItem[];
  more: boolean;
}

/** One change as a watch sends it (one `data:` line of an SSE event). */
export interface WatchEventBody {
  revision: number;
  op: 'put' | 'delete';
  key: string;
  /** Base64; null for a delete. */
  value: string | null;
}

/** `POST /leases` and `POST /leases/{id}/keepalive`. Lease IDs are decimal strings. */
export interface LeaseBody {
  id: string;
  ttl: number;
}

/** `GET /leases/{id}`: `remaining` is the leader's countdown in whole seconds. */
export interface LeaseInfoBody extends LeaseBody {
  remaining: number;
  keys: string[];
  /** True when `keys` was cut at its limit. */
  keysTruncated?: boolean;
}

/** `GET /leases`. */
export interface LeaseListBody {
  leases: (LeaseBody & { remaining: number; keys: number })[];
}

/** `POST /locks/{name}` once acquired: the fencing token and the lease that holds the lock. */
export interface LockBody {
  token: number;
  lease: string;
}

/** `GET /locks/{name}` and one entry of `GET /locks`. */
export interface LockInfoBody {
  name: string;
  token: number | null;
  lease: string | null;
  waiters: number;
}

/** `GET /locks`. */
export interface LockListBody {
  locks: LockInfoBody[];
}

/** `DELETE /leases/{id}`, `DELETE /locks/{name}`: the revision of the command that did it. */
export interface RevisionBody {
  revision: number;
}

/** `POST /txn`. */
export interface TxnResultBody {
  succeeded: boolean;
  revision: number;
}
