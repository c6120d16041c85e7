/** The FSM most runtime tests use: it records every command as a string, in order. */
import type { Readable } from 'node:stream';
import type { LogEntry } from '../../src/core/types.js';
import type { FSM, FSMSnapshot } from '../../src/raft/fsm.js';

export class ListFsm implements FSM {
  items: string[] = [];

  apply(log: LogEntry): number {
    this.items.push(new TextDecoder().decode(log.data));
    return this.items.length;
  }

  snapshot(): FSMSnapshot {
    const copy = JSON.stringify(this.items);
    return {
      persist: async (sink) => {
        await sink.write(new TextEncoder().encode(copy));
        await sink.close();
      },
      release: () => {},
    };
  }

  async restore(reader: Readable): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of reader) chunks.push(chunk as Buffer);
    this.items = JSON.parse(Buffer.concat(chunks).toString()) as string[];
  }
}
