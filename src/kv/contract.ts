/**
 * The JSON bodies of the KV service's HTTP contract (DESIGN.md, docs/kv-contract.md), as types only:
 * the server writes them, the demo's dashboard and the command-line client read them, and so can
 * `raftkit/client` (src/client), which may import nothing else from the project. Keep this file free
 * of imports and runtime code.
 */

export type ServerStateName = 'Follower' | 'Candidate' | 'Leader' | 'Shutdown';
export type SuffrageName = 'Voter' | 'Nonvoter';

/** One server of the latest configuration. */
export interface StatusMember {
  id: string;
  /** The member's Raft transport address. */
  address: string;
  suffrage: SuffrageName;
}

/** `GET /status`. */
export interface StatusBody {
  id: string;
  state: ServerStateName;
  term: number;
  /** Unknown fields are empty strings (as hashicorp's LeaderWithID) so that clients can always index them. */
  leader: { id: string; address: string; http: string };
  lastIndex: number;
  commitIndex: number;
  appliedIndex: number;
  lastSnapshotIndex: number;
  configuration: StatusMember[];
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
}

/** `POST /cluster/transfer`: to `id`, or to the most up-to-date voter when absent. */
export interface TransferBody {
  id?: string;
}

/** `200` of `PUT` and `DELETE /kv/{key}`. */
export interface WriteBody {
  index: number;
}

/** Every refusal; `412` of a compare-and-set adds the `index` and the base64 `current` value (null: absent). */
export interface ErrorBody {
  error: string;
  index?: number;
  current?: string | null;
}
