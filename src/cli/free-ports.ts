/** Free loopback TCP ports, for clusters started on one machine (chaos runs, tests). */
import { createServer, type Server } from 'node:net';

/**
 * `count` distinct ports that were free a moment ago on 127.0.0.1 (the OS picks them; another
 * process could still take one before it is used).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}
