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

export interface SimCommand {
  key: string;
  value: string;
}

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

export interface FsmObserver {
  onApply(fsm: SimFsm, index: number, payload: string): void;
  onRestore(fsm: SimFsm): void;
}

export class SimFsm implements FSM {
  registers = new Map<string, string>();
  lastIndex = 0;
  hash = 0;

  constructor(
    readonly node: string,
    private readonly observer: FsmObserver,
  ) {}

  apply(log: LogEntry): unknown {
    if (log.index <= this.lastIndex)
      throw new Error(`FSM ${this.node} got index ${log.index} after ${this.lastIndex}`);
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
