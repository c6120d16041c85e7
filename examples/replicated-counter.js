// A replicated counter over TCP with RaftNode: three durable servers (write-ahead log and file
// snapshots in a data directory each), leadership moved once, and one server restarted from its
// directory. Here all three run in one process; in production each runs on its own machine, given
// the same list of addresses.
//
//   npm run build && node examples/replicated-counter.js [host:port host:port host:port]
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftNode } from 'raftkit';

// The state machine: a counter. Commands are the amounts to add, as decimal text.
class Counter {
  value = 0;

  apply(log) {
    this.value += Number(Buffer.from(log.data).toString());
    return this.value;
  }

  snapshot() {
    const state = Buffer.from(String(this.value));
    return { persist: (sink) => sink.write(state).then(() => sink.close()), release() {} };
  }

  async restore(reader) {
    this.value = Number(Buffer.concat(await reader.toArray()).toString());
  }
}

const addrs =
  process.argv.length > 2 ? process.argv.slice(2) : ['127.0.0.1:7301', '127.0.0.1:7302', '127.0.0.1:7303'];
const root = mkdtempSync(join(tmpdir(), 'raftkit-counter-'));

/** Starts (or restarts) the server at addrs[i]; its data lives in root/node<i>. */
async function start(i) {
  const counter = new Counter();
  const node = await RaftNode.createAndBootstrap({
    addr: addrs[i],
    nodeAddrs: addrs,
    dir: join(root, `node${i}`),
    fsm: counter,
  });
  return { node, counter };
}

/** Resolves with the server that becomes leader. */
async function leaderOf(servers) {
  const elected = new AbortController();
  const leader = await Promise.any(
    servers.map(async (server) => {
      for await (const isLeader of server.node.raft.leadershipChanges(elected.signal))
        if (isLeader) return server;
      throw new Error(`${server.node.id} stopped before leading`);
    }),
  );
  elected.abort();
  return leader;
}

try {
  const servers = await Promise.all(addrs.map((_, i) => start(i)));
  let leader = await leaderOf(servers);
  for (const amount of [5, 10, 20]) {
    const { index, response } = await leader.node.apply(String(amount)); // 3 s timeout by default
    console.log(`leader ${leader.node.id} added ${amount} at index ${index}: counter = ${response}`);
  }

  // Hand leadership to another server (hashicorp's LeadershipTransfer); writes continue there.
  await leader.node.raft.leadershipTransfer();
  leader = await leaderOf(servers);
  const { response } = await leader.node.apply('7');
  console.log(`after the transfer, leader ${leader.node.id} added 7: counter = ${response}`);

  // Restart a follower from its data directory: it comes back with its state and catches up.
  const i = servers.findIndex((server) => server !== leader);
  await servers[i].node.close();
  servers[i] = await start(i);
  console.log(`${servers[i].node.id} restarted from its directory: counter = ${servers[i].counter.value}`);
  // It learns who leads from the leader's next heartbeat.
  while (servers[i].node.leaderAddr() === '') await once(servers[i].node.raft, 'leaderChange');

  // A linearizable read on any server waits until it has applied everything committed before it.
  await Promise.all(servers.map((server) => server.node.raft.linearizableRead()));
  console.log(`every server: ${servers.map((server) => server.counter.value).join(', ')}`);
  await Promise.all(servers.map((server) => server.node.close()));
} finally {
  rmSync(root, { recursive: true, force: true });
}
