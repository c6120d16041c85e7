/**
 * The simulator's state machine: a map of registers plus a rolling hash of every command applied,
 * so that two FSMs at the same index can be compared in O(1) and a snapshot restore can be checked
 * against the replayed history.
 */
import type { Readable } from 'node:stream';
import type { LogEntry } from '../core/types.js';
import type { FSM, FSMSnapshot } from '../raft/fsm.js';
import type { SnapshotSink } from '../storage/types.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The simulator's client command: set register `key` to `value`. */
export interface SimCommand {
  /** The register. */
  key: string;
  /** Its new value (unique per write, so reads can be traced to writes). */
  value: string;
}

/** The log entry data of a command (JSON). */
export function encodeCommand(command: SimCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

/** FNV-1a over the previous hash and the entry, as a 32-bit number. */
export function chainHash(previous: number, index: number, data: Uint8Array): number {
  let hash = (previous ^ 0x811c9dc5) >>> 0;
  hash = Math.imul(hash ^ (index & 0xffff), 16777619) >>> 0;
  hash = Math.imul(hash ^ (index >>> 16), 16777619) >>> 0;
  for (let i = 0; i < data.length; i++) hash = Math.imul(hash ^ data[i], 16777619) >>> 0;
  return hash;
}

/** Told of every change to a SimFsm (the SafetyChecker is one). */
export interface FsmObserver {
  /** After `fsm` applied the entry at `index` whose data is `payload`. */
  onApply(fsm: SimFsm, index: number, payload: string): void;
  /** After `fsm` was restored from a snapshot. */
  onRestore(fsm: SimFsm): void;
  /** Before `fsm` applies `entries`: none may be a record damaged at rest (`what` names the FSM). */
  checkIntact?(what: string, entries: readonly LogEntry[]): void;
}

/**
 * The simulator's FSM: registers set by SimCommands, plus a hash chained over every entry applied,
 * so replicas at the same index compare in O(1).
 */
export class SimFsm implements FSM {
  /** Register values by key. */
  registers = new Map<string, string>();
  /** The index of the last entry applied (or restored). */
  lastIndex = 0;
  /** chainHash over every entry up to lastIndex. */
  hash = 0;

  constructor(
    /** The server this FSM belongs to. */
    readonly node: string,
    private readonly observer: FsmObserver,
  ) {}

  apply(log: LogEntry): unknown {
    if (log.index <= this.lastIndex)
      throw new Error(`FSM ${this.node} got index ${log.index} after ${this.lastIndex}`);
    this.observer.checkIntact?.(`${this.node} applied`, [log]);
    const payload = decoder.decode(log.data);
    const command = JSON.parse(payload) as SimCommand;
    this.registers.set(command.key, command.value);
    this.lastIndex = log.index;
    this.hash = chainHash(this.hash, log.index, log.data);
    this.observer.onApply(this, log.index, payload);
    return log.index;
  }

  snapshot(): FSMSnapshot {
    const state = JSON.stringify({
      lastIndex: this.lastIndex,
      hash: this.hash,
      registers: [...this.registers],
    });
    return {
      async persist(sink: SnapshotSink) {
        const bytes = encoder.encode(state);
        // Several writes, so a crash can land in the middle of a snapshot.
        const half = Math.floor(bytes.length / 2);
        await sink.write(bytes.subarray(0, half));
        await sink.write(bytes.subarray(half));
        await sink.close();
      },
      release() {},
    };
  }

  async restore(reader: Readable): Promise<void> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of reader) chunks.push(chunk as Uint8Array);
    const state = JSON.parse(decoder.decode(Buffer.concat(chunks))) as {
      lastIndex: number;
      hash: number;
      registers: [string, string][];
    };
    this.lastIndex = state.lastIndex;
    this.hash = state.hash;
    this.registers = new Map(state.registers);
    this.observer.onRestore(this);
  }
}
