/**
 * `kv serve --command-format binary` on three real servers (in process, real Raft over loopback
 * TCP): the leader records its own command forms, each follower asks the leader to record its own
 * (src/cli/publish-formats.ts), and once all three records are in, the leader writes binary
 * commands, which the followers apply to the same state.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftState } from '../../src/core/types.js';
import { startKvServer, type KvServer } from '../../src/cli/serve.js';
import { parseServeArgs } from '../../src/cli/serve-args.js';
import { recordedFormats } from '../../src/kv/command-formats.js';
import { silentLogger } from '../../src/raft/logger.js';
import { FAST_CONFIG, freePorts, waitFor } from '../kit/helpers.js';
import { rawRequest } from '../support/raw-request.js';

const root = mkdtempSync(join(tmpdir(), 'raftkit-command-format-'));
let servers: KvServer[];

beforeAll(async () => {
  const ports = await freePorts(6);
  const ids = ['n1', 'n2', 'n3'];
  const peers = ids.map((id, i) => `${id}=127.0.0.1:${ports[i]}`).join(',');
  servers = await Promise.all(
    ids.map((id, i) =>
      startKvServer(
        parseServeArgs([
          ...['--id', id, '--raft-addr', `127.0.0.1:${ports[i]}`, '--http-addr', `127.0.0.1:${ports[i + 3]}`],
          ...['--data-dir', join(root, id), '--peers', peers, '--command-format', 'binary'],
        ]),
        { logger: silentLogger, config: FAST_CONFIG },
      ),
    ),
  );
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

describe('kv serve --command-format binary', () => {
  it('every member gets its record, the leader turns to binary, and followers apply its commands', async () => {
    // The followers' loop checks every 2 s; under load it may take a few rounds.
    await waitFor(
      () =>
        servers.every((server) =>
          servers.every((member) => recordedFormats(server.fsm, member.id).includes('binary')),
        ),
      30_000,
      "every member's record on every server",
    );
    const leader = await waitFor(
      () => servers.find((server) => server.raft.state === RaftState.Leader),
      10_000,
      'a leader',
    );
    expect(leader.http.formats.current()).toBe('binary');
    const put = await rawRequest(leader.httpUrl, 'PUT', '/kv/greeting', { body: Buffer.from([0, 1, 255]) });
    expect(put.status, put.text).toBe(200);
    const { index } = put.json() as { index: number };
    await waitFor(
      () => servers.every((server) => server.raft.appliedIndex() >= index),
      10_000,
      'every server to apply the write',
    );
    for (const server of servers) expect(server.fsm.get('greeting')).toEqual(Buffer.from([0, 1, 255]));
  });
});
