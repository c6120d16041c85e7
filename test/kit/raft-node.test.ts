import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrInvalidConfig, ErrNotLeader } from '../../src/core/errors.js';
import {
  DEFAULT_APPLY_TIMEOUT,
  ErrDataDir,
  getConfiguration,
  openNodeStorage,
  RaftNode,
} from '../../src/kit/index.js';
import { systemClock } from '../../src/platform/clock.js';
import { FAST_CONFIG, freePorts, ListFsm, waitFor } from './helpers.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'raftkit-kit-'));
const open: RaftNode[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((node) => node.close()));
});

const fsms = new Map<RaftNode, ListFsm>();

async function startCluster(addrs: string[], dirs: string[]) {
  const nodes = await Promise.all(
    addrs.map(async (addr, i) => {
      const fsm = new ListFsm();
      const node = await RaftNode.createAndBootstrap({
        addr,
        nodeAddrs: addrs,
        dir: dirs[i],
        fsm,
        config: FAST_CONFIG,
      });
      fsms.set(node, fsm);
      return node;
    }),
  );
  open.push(...nodes);
  return nodes;
}

describe('RaftNode.createAndBootstrap refuses bad arguments with typed errors', () => {
  const dir = tempDir();
  const fsm = new ListFsm();
  const three = ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'];
  const cases: [string, Parameters<typeof RaftNode.createAndBootstrap>[0], string][] = [
    [
      'addr without port',
      { addr: 'localhost', nodeAddrs: three, dir, fsm },
      'addr "localhost" is not host:port',
    ],
    ['port out of range', { addr: '127.0.0.1:70000', nodeAddrs: three, dir, fsm }, 'is not host:port'],
    [
      'fewer than 3 servers',
      { addr: three[0], nodeAddrs: three.slice(0, 2), dir, fsm },
      'at least 3 servers, got 2',
    ],
    ['a repeated address', { addr: three[0], nodeAddrs: [...three, three[0]], dir, fsm }, 'must not repeat'],
    ['a bad member', { addr: three[0], nodeAddrs: [...three, 'x:y'], dir, fsm }, 'nodeAddrs[3] "x:y"'],
    ['addr not a member', { addr: '127.0.0.1:4', nodeAddrs: three, dir, fsm }, 'is not one of nodeAddrs'],
  ];
  for (const [name, options, message] of cases) {
    it(name, async () => {
      const attempt = RaftNode.createAndBootstrap(options);
      await expect(attempt).rejects.toBeInstanceOf(ErrInvalidConfig);
      await expect(attempt).rejects.toThrow(message);
    });
  }

  it('a data directory that is a file', async () => {
    const file = join(tempDir(), 'file');
    writeFileSync(file, 'x');
    const attempt = RaftNode.createAndBootstrap({ addr: three[0], nodeAddrs: three, dir: file, fsm });
    await expect(attempt).rejects.toBeInstanceOf(ErrDataDir);
    await expect(attempt).rejects.toThrow('exists and is not a directory');
  });

  it("DEFAULT_APPLY_TIMEOUT is raftKit's 3 s", () => {
    expect(DEFAULT_APPLY_TIMEOUT).toBe(3000);
  });
});

describe('a 3-node RaftNode cluster over loopback TCP', () => {
  it('elects one leader that every node names, applies on it, and comes back from its data dirs', async () => {
    const ports = await freePorts(3);
    // Hostnames, not IPs: Go raftKit's IsLeader is always false with these.
    const addrs = ports.map((port) => `localhost:${port}`);
    const dirs = addrs.map(() => join(tempDir(), 'node'));
    let nodes = await startCluster(addrs, dirs);

    const leader = await waitFor(() => nodes.find((node) => node.isLeader()), 5000, 'a leader');
    expect(nodes.filter((node) => node.isLeader())).toEqual([leader]);
    await waitFor(
      () => nodes.every((node) => node.leaderAddr() === leader.id),
      5000,
      'every node to know the leader',
    );
    await waitFor(() => leader.isLeaderObserved(), 5000, 'the leadership watcher');
    const followers = nodes.filter((node) => node !== leader);
    expect(followers.map((node) => node.isLeaderObserved())).toEqual([false, false]);

    const results = [];
    for (const value of ['a', 'b', 'c']) results.push(await leader.apply(value));
    expect(results.map((result) => result.response)).toEqual([1, 2, 3]);
    await expect(followers[0].apply('nope')).rejects.toBeInstanceOf(ErrNotLeader);
    await waitFor(() => nodes.every((node) => fsms.get(node)!.items.length === 3), 5000, 'replication');
    for (const node of nodes) expect(fsms.get(node)!.items).toEqual(['a', 'b', 'c']);

    // The Go kit's layout: the log store (here the default WAL) and the snapshot directory inside dir.
    await leader.raft.snapshot();
    const leaderDir = dirs[nodes.indexOf(leader)];
    expect(existsSync(join(leaderDir, 'wal'))).toBe(true);
    expect(readdirSync(join(leaderDir, 'snapshots')).length).toBe(1);

    // A second node cannot open a directory in use.
    await expect(
      RaftNode.createAndBootstrap({ addr: addrs[0], nodeAddrs: addrs, dir: dirs[0], fsm: new ListFsm() }),
    ).rejects.toThrow('is in use by another node in this process');

    await Promise.all(open.splice(0).map((node) => node.close()));
    nodes = await startCluster(addrs, dirs);
    // Bootstrapping again is not an error, and what each node had applied is back before create
    // returns (the commit index is durable before anything is applied).
    for (const node of nodes) expect(fsms.get(node)!.items).toEqual(['a', 'b', 'c']);
    const newLeader = await waitFor(
      () => nodes.find((node) => node.isLeader()),
      5000,
      'a leader after restart',
    );
    const next = await newLeader.apply('d');
    expect(next.response).toBe(4);
    await waitFor(
      () => nodes.every((node) => fsms.get(node)!.items.length === 4),
      5000,
      'replication after restart',
    );
    for (const node of nodes) expect(fsms.get(node)!.items).toEqual(['a', 'b', 'c', 'd']);
  });

  it('closes the transport and the stores when start-up fails', async () => {
    const [port] = await freePorts(1);
    const addrs = [`127.0.0.1:${port}`, '127.0.0.1:1', '127.0.0.1:2'];
    const dir = tempDir();
    const bad = RaftNode.createAndBootstrap({
      addr: addrs[0],
      nodeAddrs: addrs,
      dir,
      fsm: new ListFsm(),
      config: { heartbeatTimeout: 1 },
    });
    await expect(bad).rejects.toBeInstanceOf(ErrInvalidConfig);
    // The port and the directory are free again.
    const node = await RaftNode.createAndBootstrap({
      addr: addrs[0],
      nodeAddrs: addrs,
      dir,
      fsm: new ListFsm(),
    });
    expect(node.raft.getConfiguration().configuration.servers.map((server) => server.id)).toEqual(addrs);
    await node.close();
    // Offline, dir holds the bootstrapped configuration: every address a voter named by itself.
    const storage = await openNodeStorage(dir, { clock: systemClock });
    try {
      const { configuration } = await getConfiguration(storage.logStore, storage.snapshotStore);
      expect(configuration.servers).toEqual(addrs.map((addr) => ({ id: addr, address: addr, suffrage: 0 })));
    } finally {
      await storage.close();
    }
  });
});
