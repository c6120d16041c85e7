// A minimal 3-node Raft cluster in one process: in-memory stores and an in-memory network, the
// setup hashicorp/raft users know from tests. Nothing touches the disk or the network.
//
//   npm run build && node examples/inmem-cluster.js
import {
  InmemNetwork,
  InmemSnapshotStore,
  InmemStore,
  InmemTransport,
  Raft,
  ServerSuffrage,
  bootstrapCluster,
  defaultConfig,
} from 'raftkit';

// The replicated state machine: a journal of lines. Every node applies every committed entry, in
// log order, so every node ends up with the same journal.
class Journal {
  lines = [];

  apply(log) {
    this.lines.push(Buffer.from(log.data).toString());
    return this.lines.length; // becomes the result of raft.apply() on the leader
  }

  snapshot() {
    const state = Buffer.from(JSON.stringify(this.lines));
    // persist runs while later entries apply, so it writes the copy taken above; if it throws,
    // the runtime cancels the sink and no snapshot appears.
    return { persist: (sink) => sink.write(state).then(() => sink.close()), release() {} };
  }

  async restore(reader) {
    this.lines = JSON.parse(Buffer.concat(await reader.toArray()).toString());
  }
}

// Every server starts from the same configuration: three voters.
const servers = ['a', 'b', 'c'].map((id) => ({ id, address: `mem-${id}`, suffrage: ServerSuffrage.Voter }));
const network = new InmemNetwork();
const nodes = [];
for (const { id, address } of servers) {
  // No real network delays here, so shorter timeouts than hashicorp's 1 s defaults are safe.
  const config = {
    ...defaultConfig(),
    localId: id,
    heartbeatTimeout: 200,
    electionTimeout: 200,
    leaderLeaseTimeout: 100,
  };
  const store = new InmemStore(); // log and stable store in one
  const snapshots = new InmemSnapshotStore();
  await bootstrapCluster(config, store, store, snapshots, { servers });
  const fsm = new Journal();
  const raft = await Raft.create({
    config,
    fsm,
    logStore: store,
    stableStore: store,
    snapshotStore: snapshots,
    transport: new InmemTransport(network, address),
  });
  nodes.push({ id, raft, fsm });
}

// Wait for an election: leadershipChanges() yields true once a node leads.
const elected = new AbortController();
const leader = await Promise.any(
  nodes.map(async (node) => {
    for await (const isLeader of node.raft.leadershipChanges(elected.signal)) if (isLeader) return node;
    throw new Error(`${node.id} stopped before leading`);
  }),
);
elected.abort();
console.log(`leader: ${leader.id} (term ${leader.raft.currentTerm()})`);

// Writes go through the leader; each resolves once committed by a majority and applied.
for (const line of ['first', 'second', 'third']) {
  const { index, response } = await leader.raft.apply(Buffer.from(line));
  console.log(`applied "${line}" at index ${index}: journal has ${response} lines`);
}

// A linearizable read on a follower waits until it has applied everything committed before it.
for (const node of nodes) {
  await node.raft.linearizableRead();
  console.log(`${node.id}: ${node.fsm.lines.join(', ')}`);
}

await Promise.all(nodes.map((node) => node.raft.shutdown()));
console.log('shut down');
