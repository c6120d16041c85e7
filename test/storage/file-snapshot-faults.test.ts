/**
 * FileSnapshotStore under the faults of the fault-injecting file layer: running out of
 * descriptors is ErrOutOfDescriptors (retry later) and leaves nothing behind, a failed read is
 * ErrStoreRead, a failed sync or a torn write publishes nothing.
 */
import { readdir } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrOutOfDescriptors, ErrSnapshotStore, ErrStoreRead } from '../../src/core/errors.js';
import { ServerSuffrage, type Configuration } from '../../src/core/types.js';
import { FileSnapshotStore, newFileSnapshotStore } from '../../src/storage/file-snapshot.js';
import { systemClock } from '../../src/platform/clock.js';
import { faultyFileSystem, type FaultyFileSystem } from '../../src/testing/fault-files.js';
import { useTempDir } from '../support/temp-dir.js';

const configuration: Configuration = {
  servers: [{ suffrage: ServerSuffrage.Voter, id: 'n1', address: '127.0.0.1:7001' }],
};

const temp = useTempDir('raftkit-snap-faults-');
let files: FaultyFileSystem;
let store: FileSnapshotStore;

beforeEach(async () => {
  files = faultyFileSystem('');
  store = await newFileSnapshotStore(temp.path, 3, { clock: systemClock, files });
});

async function take(index: number, data = Buffer.alloc(1000, index)): Promise<string> {
  const sink = await store.create(1, index, 1, configuration, 1);
  await sink.write(data);
  await sink.close();
  return sink.id;
}

async function readAll(reader: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of reader) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function entriesOf(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

describe('FileSnapshotStore: out of file descriptors', () => {
  it('refuses to create a snapshot with ErrOutOfDescriptors, leaves nothing, and creates it once descriptors are back', async () => {
    files.addRules('emfile-open:count=1');
    await expect(store.create(1, 10, 1, configuration, 1)).rejects.toBeInstanceOf(ErrOutOfDescriptors);
    expect(await entriesOf(store.dir)).toEqual([]);
    const id = await take(10);
    expect((await store.list()).map((meta) => meta.id)).toEqual([id]);
  });

  it('fails a close that cannot open meta.json with ErrOutOfDescriptors and publishes nothing', async () => {
    const sink = await store.create(1, 10, 1, configuration, 1);
    await sink.write(Buffer.from('state'));
    files.addRules('emfile-open:count=1,path=meta.json');
    await expect(sink.close()).rejects.toBeInstanceOf(ErrOutOfDescriptors);
    expect(await entriesOf(store.dir)).toEqual([]);
    expect(await store.list()).toEqual([]);
  });

  it('fails a listing with ErrOutOfDescriptors instead of leaving out snapshots it could not open', async () => {
    const older = await take(10);
    const newer = await take(20);
    files.addRules('emfile-open:count=1,path=meta.json');
    await expect(store.list()).rejects.toBeInstanceOf(ErrOutOfDescriptors);
    // Reading the directory itself takes a descriptor too.
    files.addRules('emfile-open:count=1');
    await expect(store.list()).rejects.toBeInstanceOf(ErrOutOfDescriptors);
    expect((await store.list()).map((meta) => meta.id)).toEqual([newer, older]);
  });

  it('fails open() with ErrOutOfDescriptors, not ErrSnapshotCorrupt, and opens the snapshot later', async () => {
    const id = await take(10);
    files.addRules('emfile-open:count=1,path=state.bin');
    await expect(store.open(id)).rejects.toBeInstanceOf(ErrOutOfDescriptors);
    files.addRules('emfile-open:count=1,path=meta.json');
    await expect(store.open(id)).rejects.toBeInstanceOf(ErrOutOfDescriptors);
    const { reader } = await store.open(id);
    expect(await readAll(reader)).toEqual(Buffer.alloc(1000, 10));
  });
});

describe('FileSnapshotStore: disk faults', () => {
  it('makes a failed read while streaming ErrStoreRead; the snapshot itself stays good', async () => {
    const id = await take(10, Buffer.alloc(600_000, 7));
    files.addRules('eio-read:after=1,count=1,path=state.bin');
    const { reader } = await store.open(id);
    await expect(readAll(reader)).rejects.toBeInstanceOf(ErrStoreRead);
    await store.verify(id);
    const again = await store.open(id);
    expect((await readAll(again.reader)).equals(Buffer.alloc(600_000, 7))).toBe(true);
  });

  it('publishes nothing when syncing state.bin fails', async () => {
    const sink = await store.create(1, 10, 1, configuration, 1);
    await sink.write(Buffer.from('state'));
    files.addRules('fsync-fail:count=1,path=state.bin');
    await expect(sink.close()).rejects.toBeInstanceOf(ErrSnapshotStore);
    expect(files.injected['fsync-fail']).toBe(1);
    expect(await entriesOf(store.dir)).toEqual([]);
    expect(await store.list()).toEqual([]);
  });

  it('leaves only a .tmp directory after a torn write, which the next store removes', async () => {
    const kept = await take(5);
    const sink = await store.create(1, 10, 1, configuration, 1);
    files.addRules('torn-write:path=state.bin');
    await expect(sink.write(Buffer.alloc(2 * 1024 * 1024, 1))).rejects.toThrow(/simulated crash/);
    await expect(sink.close()).rejects.toThrow(/simulated crash/);
    expect(files.isCrashed).toBe(true);
    const restarted = await newFileSnapshotStore(temp.path, 3, { clock: systemClock });
    expect((await restarted.list()).map((meta) => meta.id)).toEqual([kept]);
    expect(await entriesOf(restarted.dir)).toEqual([kept]);
  });
});
