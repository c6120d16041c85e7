/**
 * src/kv/command-formats.ts and its routes: a leader asked for binary commands writes them only
 * while every member of the configuration has recorded that it reads them; a member without a
 * record (a Go hashicorp/raft node, an older raftkit) keeps the whole cluster on JSON; a server
 * that reads only JSON cannot join a cluster that may have binary commands in its log.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { BINARY_V1 } from '../../src/kv/command-binary.js';
import { formatsKey } from '../../src/kv/command-formats.js';
import type { CommandFormat } from '../../src/kv/commands.js';
import type { HostResolver } from '../../src/kv/http/membership.js';
import { expectJsonError, useKvApi } from './http/api-harness.js';

const api = useKvApi();
const resolveHost: HostResolver = async () => {
  throw new Error('no names in this test');
};

/** The form of every command the leader proposes from now on, in order. */
let written: ('json' | 'binary')[] = [];

async function start(commandFormat: CommandFormat | undefined): Promise<void> {
  await api.restart({ commandFormat, resolveHost, joinTimeout: 300 });
  api.cluster.configuration.push(
    { id: 'n2', address: '127.0.0.1:7002', suffrage: 'Voter' },
    { id: 'n3', address: '127.0.0.1:7003', suffrage: 'Voter' },
  );
  written = [];
  const apply = api.cluster.apply.bind(api.cluster);
  api.cluster.apply = (data) => {
    written.push(data[0] === BINARY_V1 ? 'binary' : 'json');
    return apply(data);
  };
}

const put = (key: string) => api.json('PUT', `/kv/${key}`, 'value');
const record = (id: string, formats: unknown) =>
  api.json('POST', '/cluster/formats', JSON.stringify({ id, formats }));

/** Writes one key and says in which form it went to the log. */
async function formOfNextWrite(): Promise<'json' | 'binary'> {
  written = [];
  expect((await put('probe')).status).toBe(200);
  expect(api.cluster.fsm.get('probe')?.toString()).toBe('value');
  return written[0];
}

describe('with --command-format binary', () => {
  beforeEach(() => start('binary'));

  it('writes JSON until every member has recorded that it reads binary, then binary', async () => {
    expect(await formOfNextWrite()).toBe('json');
    for (const id of ['n1', 'n2']) expect((await record(id, ['json', 'binary'])).status).toBe(200);
    expect(api.cluster.fsm.get(formatsKey('n2'))?.toString()).toBe('json,binary');
    // n3 (a Go node, say) has no record: still JSON.
    expect(await formOfNextWrite()).toBe('json');
    expect((await record('n3', ['json', 'binary'])).status).toBe(200);
    expect(await formOfNextWrite()).toBe('binary');
  });

  it('goes back to JSON when a member records that it reads only JSON, or its record is deleted', async () => {
    for (const id of ['n1', 'n2', 'n3']) await record(id, ['json', 'binary']);
    expect(await formOfNextWrite()).toBe('binary');
    expect((await record('n3', ['json'])).status).toBe(200);
    expect(await formOfNextWrite()).toBe('json');
    await record('n3', ['binary', 'json', 'a-later-form']);
    expect(api.cluster.fsm.get(formatsKey('n3'))?.toString()).toBe('json,binary');
    expect(await formOfNextWrite()).toBe('binary');
    api.cluster.seed(formatsKey('n3'), 'json');
    expect(await formOfNextWrite()).toBe('json');
  });

  it('goes back to JSON when a server without a record joins the configuration', async () => {
    for (const id of ['n1', 'n2', 'n3']) await record(id, ['json', 'binary']);
    expect(await formOfNextWrite()).toBe('binary');
    api.cluster.configuration.push({ id: 'g1', address: '127.0.0.1:7009', suffrage: 'Nonvoter' });
    api.server.formats.invalidate(); // what service.ts does on the runtime's 'configuration' event
    expect(await formOfNextWrite()).toBe('json');
  });

  it('refuses the join of a server that reads only JSON (it would be handed binary commands)', async () => {
    for (const id of ['n1', 'n2', 'n3']) await record(id, ['json', 'binary']);
    const joiner = { id: 'n4', address: '127.0.0.1:7004', http: 'http://127.0.0.1:8004' };
    const refused = await api.json('POST', '/cluster/join', JSON.stringify(joiner));
    expectJsonError(refused, 409);
    expect((refused.json() as { error: string }).error).toMatch(/binary commands.*n4.*does not read/);
    expect(api.cluster.calls).toEqual([]);
    // `kv serve --join` names the forms it reads: recorded before the server is added, so the
    // leader stays on binary.
    const accepted = await api.json(
      'POST',
      '/cluster/join',
      JSON.stringify({ ...joiner, formats: ['json', 'binary'] }),
    );
    expect(accepted.status).toBe(200);
    expect(api.cluster.fsm.get(formatsKey('n4'))?.toString()).toBe('json,binary');
    api.server.formats.invalidate();
    expect(await formOfNextWrite()).toBe('binary');
  });

  it('forgets the record of a removed server, so that an older server reusing its ID keeps JSON', async () => {
    for (const id of ['n1', 'n2', 'n3']) await record(id, ['json', 'binary']);
    expect((await api.json('DELETE', '/cluster/n3')).status).toBe(200);
    await api.server.membership.forgetRemoved();
    expect(api.cluster.fsm.get(formatsKey('n3'))).toBeUndefined();
  });

  it('refuses malformed records and servers outside the configuration', async () => {
    expectJsonError(await record('n2', 'binary'), 400);
    expectJsonError(await record('n2', [1]), 400);
    expectJsonError(
      await record(
        'n2',
        Array.from({ length: 9 }, () => 'json'),
      ),
      400,
    );
    expectJsonError(await record('bad id!', ['json']), 400);
    expectJsonError(await record('n9', ['json', 'binary']), 404);
    expect(api.cluster.fsm.get(formatsKey('n9'))).toBeUndefined();
    // A join's "formats" goes through the same check, before anything is recorded or added.
    const joiner = { id: 'n4', address: '127.0.0.1:7004', http: 'http://127.0.0.1:8004' };
    for (const formats of ['binary', [1], Array.from({ length: 9 }, () => 'json'), ['x'.repeat(33)]]) {
      expectJsonError(await api.json('POST', '/cluster/join', JSON.stringify({ ...joiner, formats })), 400);
    }
    expect(api.cluster.calls).toEqual([]);
    expect(api.cluster.fsm.get(formatsKey('n4'))).toBeUndefined();
  });
});

describe('with the default (--command-format json)', () => {
  beforeEach(() => start(undefined));

  it('writes JSON even when every member reads binary, and accepts joins that name no formats', async () => {
    for (const id of ['n1', 'n2', 'n3']) await record(id, ['json', 'binary']);
    expect(await formOfNextWrite()).toBe('json');
    const joiner = { id: 'n4', address: '127.0.0.1:7004', http: 'http://127.0.0.1:8004' };
    expect((await api.json('POST', '/cluster/join', JSON.stringify(joiner))).status).toBe(200);
  });

  it('a join that names no formats deletes an old record of its ID', async () => {
    api.cluster.seed(formatsKey('n4'), 'json,binary');
    const joiner = { id: 'n4', address: '127.0.0.1:7004', http: 'http://127.0.0.1:8004' };
    expect((await api.json('POST', '/cluster/join', JSON.stringify(joiner))).status).toBe(200);
    expect(api.cluster.fsm.get(formatsKey('n4'))).toBeUndefined();
  });
});
