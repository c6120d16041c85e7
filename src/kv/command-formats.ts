/**
 * The cluster-wide switch between the JSON and the binary form of log commands. Binary is opt-in
 * (`kv serve --command-format binary` on the servers that may lead). Every member that reads it
 * says so in a reserved key, `_raftkit/formats/<id>` (value: the form names it reads,
 * comma-separated, e.g. `json,binary`); a leader asked for binary writes it only while every
 * server of the latest configuration has such a record naming `binary`. A Go hashicorp/raft node
 * or an older raftkit writes no record, so a cluster with one of them in its configuration keeps
 * JSON, which every implementation reads.
 *
 * Who writes the records: a leader its own (service.ts, with its HTTP address), a follower's
 * through the leader's `POST /cluster/formats` (sent by `kv serve`), a joiner's with its join. The
 * leader deletes the record of a server the configuration no longer names, so an ID reused by an
 * older server does not inherit it.
 */
import type { CommandFormat } from './commands.js';
import type { KvCluster } from './cluster.js';
import type { KvFsm } from './fsm.js';
import { RESERVED_PREFIX } from './validate.js';

/** The forms this version of the service reads, as its record lists them. */
export const READ_FORMATS: readonly CommandFormat[] = ['json', 'binary'];
/** Forms a record may name: the ones this version knows (a later one's others are ignored). */
const KNOWN_FORMATS = new Set<string>(READ_FORMATS);
/** Most form names a record or request may carry. */
export const MAX_FORMAT_NAMES = 8;
const FORMATS_PREFIX = `${RESERVED_PREFIX}formats/`;

/** The reserved key of a member's record of the command forms it reads. */
export function formatsKey(serverId: string): string {
  return FORMATS_PREFIX + serverId;
}

/** The record's value for a list of form names: the known ones, in a fixed order. */
export function formatsRecord(names: readonly string[]): string {
  return READ_FORMATS.filter((format) => names.includes(format)).join(',');
}

/** The form names a member's record lists; empty when it has none. */
export function recordedFormats(fsm: KvFsm, serverId: string): string[] {
  const value = fsm.get(formatsKey(serverId));
  if (value === undefined) return [];
  return Buffer.from(value)
    .toString('utf8')
    .split(',', MAX_FORMAT_NAMES)
    .filter((name) => KNOWN_FORMATS.has(name));
}

/** The IDs of every server with a record, members or not. */
export function formatsRecordIds(fsm: KvFsm): string[] {
  return fsm.reservedIds(FORMATS_PREFIX);
}

/**
 * The form a leader writes commands in now. Decided again only when a record or the
 * configuration may have changed (the service calls `invalidate` on configuration changes; record
 * changes and restores are seen through the state machine), not per write.
 */
export class CommandFormats {
  private decided: CommandFormat | null = null;

  constructor(
    private readonly fsm: KvFsm,
    private readonly cluster: KvCluster,
    /**
     * `json`: always JSON. `binary`: binary while every member's record says it reads it (JSON
     * otherwise); a server that reads only JSON cannot join then (Membership refuses it), because
     * it would be handed the binary commands already in the log.
     */
    readonly wanted: CommandFormat = 'json',
  ) {
    fsm.observe({
      applied: (_revision, journal) => {
        if (journal.events.some((event) => event.key.startsWith(FORMATS_PREFIX))) this.invalidate();
      },
      restored: () => this.invalidate(),
    });
  }

  /** The configuration may have changed: decide again at the next write. */
  invalidate(): void {
    this.decided = null;
  }

  current(): CommandFormat {
    if (this.wanted === 'json') return 'json';
    this.decided ??= this.decide();
    return this.decided;
  }

  private decide(): CommandFormat {
    const members = this.cluster.status().configuration;
    const everyoneReads = members.every((member) => recordedFormats(this.fsm, member.id).includes('binary'));
    return members.length > 0 && everyoneReads ? 'binary' : 'json';
  }
}
