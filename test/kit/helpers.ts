/** Shared pieces of the kit tests: a small FSM that records what it applied, and polling. */
import { createServer } from 'node:net';
import { ListFsm } from '../support/list-fsm.js';
import { waitFor } from '../support/wait.js';

export { ListFsm };

export { waitFor };

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
