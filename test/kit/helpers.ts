/** Shared pieces of the kit tests: a small FSM that records what it applied, and polling. */
import { createServer } from 'node:net';
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

export async function waitFor<T>(
  fn: () => T | undefined | null | false,
  what: string,
  ms = 5000,
): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = fn();
    if (value) return value;
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Election timeouts short enough for tests on the real clock. */
export const FAST_CONFIG = { heartbeatTimeout: 100, electionTimeout: 100, leaderLeaseTimeout: 100 };

/** Ports the OS just handed out (and took back), for addresses that must be known up front. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve) => {
          const server = createServer();
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}
