import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrCantBootstrap } from '../../src/core/errors.js';
import { RaftState, ServerSuffrage, LogType } from '../../src/core/types.js';
import { PEERS_JSON, recoverFromPeersJson } from '../../src/kit/peers-json.js';
import { openNodeStorage } from '../../src/kit/storage.js';
import { systemClock } from '../../src/platform/clock.js';
import { bootstrapCluster } from '../../src/raft/bootstrap.js';
import { silentLogger } from '../../src/raft/logger.js';
import { Raft } from '../../src/raft/raft.js';
import { getConfiguration } from '../../src/raft/recovery.js';
import { InmemNetwork, InmemTransport } from '../../src/transport/inmem.js';
import { fastConfig, waitFor } from '../raft/helpers.js';
import { ListFsm } from '../support/list-fsm.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

const voter = (id: string) => ({ id, address: `addr-${id}`, suffrage: ServerSuffrage.Voter });

describe('peers.json recovery', () => {
  it('forces the membership written in <dir>/peers.json, keeps the data, and removes the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'raftkit-peers-'));
    dirs.push(dir);
    const storage = await openNodeStorage(dir, { clock: systemClock });
    const config = fastConfig('a');
    // A server of a lost 3-node cluster, with two commands in its log.
    await bootstrapCluster(config, storage.logStore, storage.logStore, storage.snapshotStore, {
      servers: [voter('a'), voter('b'), voter('c')],
    });
    const command = (index: number, text: string) => ({
      index,
      term: 1,
      type: LogType.Command,
      data: new TextEncoder().encode(text),
      extensions: new Uint8Array(0),
      appendedAt: 0,
    });
    await storage.logStore.storeLogs([command(2, 'x'), command(3, 'y')]);
    await writeFile(
      join(dir, PEERS_JSON),
      JSON.stringify([{ id: 'a', address: 'addr-a', non_voter: false }]),
    );

    expect(await recoverFromPeersJson(storage, config, new ListFsm(), silentLogger)).toBe(true);
    expect(existsSync(join(dir, PEERS_JSON))).toBe(false);
    expect((await getConfiguration(storage.logStore, storage.snapshotStore)).configuration).toEqual({
      servers: [voter('a')],
    });

    const fsm = new ListFsm();
    const raft = await Raft.create({
      config,
      fsm,
      logStore: storage.logStore,
      stableStore: storage.logStore,
      snapshotStore: storage.snapshotStore,
      transport: new InmemTransport(new InmemNetwork(), 'addr-a'),
    });
    try {
      expect(fsm.items).toEqual(['x', 'y']);
      await waitFor(() => raft.state === RaftState.Leader, 3000, 'the lone survivor to lead');
      expect((await raft.apply(new TextEncoder().encode('z'), { timeout: 2000 })).response).toBe(3);
    } finally {
      await raft.shutdown();
      await storage.close();
    }
  });

  it('refuses a peers.json on a server without state, and does nothing without the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'raftkit-peers-'));
    dirs.push(dir);
    const storage = await openNodeStorage(dir, { clock: systemClock });
    try {
      expect(await recoverFromPeersJson(storage, fastConfig('a'), new ListFsm(), silentLogger)).toBe(false);
      await writeFile(join(dir, PEERS_JSON), '["127.0.0.1:7001"]');
      await expect(
        recoverFromPeersJson(storage, fastConfig('a'), new ListFsm(), silentLogger),
      ).rejects.toBeInstanceOf(ErrCantBootstrap);
    } finally {
      await storage.close();
    }
  });
});
