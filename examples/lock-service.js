// A lock service on RaftNode, with fencing tokens decided by the state machine.
//
// A lock alone cannot protect a resource: a holder that pauses (GC, a stalled VM) may wake up after
// its lock was given to someone else and still write. So each grant carries a fencing token, here
// the Raft log index of the acquire entry: it only grows, and every replica computes the same one.
// The resource remembers the highest token it has seen and refuses older ones.
//
//   npm run build && node examples/lock-service.js [host:port host:port host:port]
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftNode } from 'raftkit';

// The replicated state machine: lock name -> { owner, token }. Decisions depend only on the log,
// so every replica grants and refuses exactly the same requests.
class Locks {
  held = new Map();

  apply(log) {
    const command = JSON.parse(Buffer.from(log.data).toString());
    const current = this.held.get(command.name);
    if (command.op === 'acquire') {
      if (current !== undefined) return { granted: false, holder: current.owner };
      const grant = { owner: command.owner, token: log.index };
      this.held.set(command.name, grant);
      return { granted: true, token: grant.token };
    }
    // release: only by the holder of that grant, so a stale release cannot free a newer grant
    if (current?.owner !== command.owner || current.token !== command.token) return { released: false };
    this.held.delete(command.name);
    return { released: true };
  }

  snapshot() {
    const state = Buffer.from(JSON.stringify([...this.held]));
    return { persist: (sink) => sink.write(state).then(() => sink.close()), release() {} };
  }

  async restore(reader) {
    this.held = new Map(JSON.parse(Buffer.concat(await reader.toArray()).toString()));
  }
}

/** What a client of the service sees: acquire and release through the leader. */
class LockClient {
  constructor(leader, owner) {
    this.leader = leader;
    this.owner = owner;
  }

  async acquire(name) {
    const { response } = await this.leader.apply(JSON.stringify({ op: 'acquire', name, owner: this.owner }));
    return response;
  }

  async release(name, token) {
    const { response } = await this.leader.apply(
      JSON.stringify({ op: 'release', name, owner: this.owner, token }),
    );
    return response.released;
  }
}

/** A resource protected by fencing: it refuses a token older than one it has already seen. */
class FencedStorage {
  highestToken = 0;

  write(token, what) {
    if (token < this.highestToken) return `refused "${what}" (token ${token} < ${this.highestToken})`;
    this.highestToken = token;
    return `accepted "${what}" (token ${token})`;
  }
}

const addrs =
  process.argv.length > 2 ? process.argv.slice(2) : ['127.0.0.1:7401', '127.0.0.1:7402', '127.0.0.1:7403'];
const root = mkdtempSync(join(tmpdir(), 'raftkit-locks-'));
try {
  const nodes = await Promise.all(
    addrs.map((addr, i) =>
      RaftNode.createAndBootstrap({ addr, nodeAddrs: addrs, dir: join(root, `node${i}`), fsm: new Locks() }),
    ),
  );
  // Clients talk to the leader: wait until a server has heard from one, then use that server.
  while (nodes[0].leaderAddr() === '') await once(nodes[0].raft, 'leaderChange');
  const leader = nodes.find((node) => node.id === nodes[0].leaderAddr());

  const alice = new LockClient(leader, 'alice');
  const bob = new LockClient(leader, 'bob');
  const storage = new FencedStorage();

  const outcome = (grant) =>
    grant.granted ? `granted, token ${grant.token}` : `refused, held by ${grant.holder}`;
  const first = await alice.acquire('report');
  console.log(`alice acquires "report": ${outcome(first)}`);
  console.log(`bob acquires "report": ${outcome(await bob.acquire('report'))}`);
  console.log(`alice writes: ${storage.write(first.token, 'draft by alice')}`);

  const released = await alice.release('report', first.token);
  console.log(`alice releases "report": ${released ? 'released' : 'refused'}`);
  const second = await bob.acquire('report');
  console.log(`bob acquires "report": ${outcome(second)}`);
  console.log(`bob writes: ${storage.write(second.token, 'final by bob')}`);

  // A write alice sent while she held the lock was stuck in the network and arrives only now (or
  // she paused and woke up believing she still holds it): the fencing token stops it.
  console.log(`alice's delayed write: ${storage.write(first.token, 'retry of the draft')}`);
  const again = await alice.release('report', first.token);
  console.log(`alice releases again: ${again ? 'released' : 'refused (bob holds it now)'}`);

  await Promise.all(nodes.map((node) => node.close()));
} finally {
  rmSync(root, { recursive: true, force: true });
}
