import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  ErrSnapshotNotFound,
  ErrSnapshotStore,
  ErrUnsupportedSnapshotVersion,
} from '../../src/core/errors.js';
import { ServerSuffrage, type Configuration } from '../../src/core/types.js';
import { InmemSnapshotStore } from '../../src/storage/inmem-snapshot.js';

const configuration: Configuration = {
  servers: [{ suffrage: ServerSuffrage.Voter, id: 'n1', address: 'h:1' }],
};

async function readAll(reader: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of reader) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('InmemSnapshotStore', () => {
  it('lists nothing until a sink is closed, then the snapshot with its size', async () => {
    const store = new InmemSnapshotStore();
    const sink = await store.create(1, 10, 2, configuration, 3);
    await sink.write(Buffer.from('abc'));
    expect(await store.list()).toEqual([]);
    await sink.close();
    expect(await store.list()).toEqual([
      { version: 1, id: sink.id, index: 10, term: 2, configuration, configurationIndex: 3, size: 3 },
    ]);
  });

  it('keeps only the latest snapshot', async () => {
    const store = new InmemSnapshotStore();
    const first = await store.create(1, 10, 1, configuration, 1);
    await first.write(Buffer.from('one'));
    await first.close();
    const second = await store.create(1, 20, 1, configuration, 1);
    await second.write(Buffer.from('two'));
    await second.close();
    expect(first.id).not.toBe(second.id);
    expect((await store.list()).map((m) => m.id)).toEqual([second.id]);
    await expect(store.open(first.id)).rejects.toThrow(ErrSnapshotNotFound);
  });

  it('streams back the bytes written in chunks, unaffected by the caller reusing its buffer', async () => {
    const store = new InmemSnapshotStore();
    const sink = await store.create(1, 10, 1, configuration, 1);
    const scratch = Buffer.alloc(4);
    const expected: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      scratch.writeUInt32BE(i * 7919);
      await sink.write(scratch);
      expected.push(Buffer.from(scratch));
    }
    await sink.close();
    const { meta, reader } = await store.open(sink.id);
    expect(meta.size).toBe(200);
    expect(await readAll(reader)).toEqual(Buffer.concat(expected));
    // Two readers of one snapshot do not disturb each other.
    expect(await readAll((await store.open(sink.id)).reader)).toEqual(Buffer.concat(expected));
  });

  it('does not let callers change stored metadata through aliases', async () => {
    const store = new InmemSnapshotStore();
    const mutable: Configuration = { servers: [{ ...configuration.servers[0] }] };
    const sink = await store.create(1, 10, 1, mutable, 1);
    await sink.close();
    mutable.servers[0].address = 'changed';
    (await store.list())[0].configuration.servers.push({ suffrage: 0, id: 'x', address: 'y' });
    expect((await store.list())[0].configuration).toEqual(configuration);
  });

  it('cancel() publishes nothing and refuses later writes', async () => {
    const store = new InmemSnapshotStore();
    const sink = await store.create(1, 10, 1, configuration, 1);
    await sink.write(Buffer.from('abc'));
    await sink.cancel();
    await sink.close();
    expect(await store.list()).toEqual([]);
    await expect(sink.write(Buffer.from('x'))).rejects.toThrow(ErrSnapshotStore);
  });

  it('creates only version 1 and rejects unknown IDs', async () => {
    const store = new InmemSnapshotStore();
    await expect(store.create(0, 1, 1, configuration, 1)).rejects.toThrow(ErrUnsupportedSnapshotVersion);
    await expect(store.open('1-1-1')).rejects.toThrow(ErrSnapshotNotFound);
  });
});
