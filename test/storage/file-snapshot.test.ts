import { mkdtemp, mkdir, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/core/clock.js';
import {
  ErrInvalidConfig,
  ErrSnapshotCorrupt,
  ErrSnapshotNotFound,
  ErrSnapshotStore,
  ErrUnsupportedSnapshotVersion,
} from '../../src/core/errors.js';
import { ServerSuffrage, type Configuration } from '../../src/core/types.js';
import { crc64 } from '../../src/storage/crc64.js';
import { FileSnapshotStore, newFileSnapshotStore } from '../../src/storage/file-snapshot.js';
import { decodePeers } from '../../src/wire/configuration.js';

/** A wall clock the test sets by hand. */
function manualClock(wallTime: number): Clock & { wall: number } {
  return {
    wall: wallTime,
    now() {
      return this.wall;
    },
    wallTime() {
      return this.wall;
    },
    setTimer() {
      throw new Error('not used');
    },
  };
}

const configuration: Configuration = {
  servers: [
    { suffrage: ServerSuffrage.Voter, id: 'n1', address: '127.0.0.1:7001' },
    { suffrage: ServerSuffrage.Nonvoter, id: 'n2', address: '127.0.0.1:7002' },
    { suffrage: ServerSuffrage.Voter, id: 'n3', address: '127.0.0.1:7003' },
  ],
};

async function readAll(reader: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of reader) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

let base: string;
let clock: Clock & { wall: number };

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'raftkit-snap-'));
  clock = manualClock(1_700_000_000_123);
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function writeSnapshot(
  store: FileSnapshotStore,
  term: number,
  index: number,
  data: Uint8Array,
  config: Configuration = configuration,
): Promise<string> {
  const sink = await store.create(1, index, term, config, 7);
  await sink.write(data);
  await sink.close();
  return sink.id;
}

describe('FileSnapshotStore: construction', () => {
  it('creates <base>/snapshots with mode 0755 and leaves no permTest file', async () => {
    await newFileSnapshotStore(base, 2, { clock });
    const info = await stat(join(base, 'snapshots'));
    const umask = process.umask(0o022);
    process.umask(umask);
    expect(info.isDirectory()).toBe(true);
    expect(info.mode & 0o777).toBe(0o755 & ~umask);
    expect(await readdir(join(base, 'snapshots'))).toEqual([]);
  });

  it('refuses retain < 1 with a typed error', () => {
    expect(() => new FileSnapshotStore(base, 0, { clock })).toThrow(ErrInvalidConfig);
    expect(() => new FileSnapshotStore(base, 1.5, { clock })).toThrow(ErrInvalidConfig);
  });

  it('reports an unusable base directory as ErrSnapshotStore', async () => {
    const notADirectory = join(base, 'file');
    await writeFile(notADirectory, 'x');
    await expect(newFileSnapshotStore(notADirectory, 1, { clock })).rejects.toThrow(ErrSnapshotStore);
  });

  it('creates only version 1 snapshots', async () => {
    const store = await newFileSnapshotStore(base, 1, { clock });
    await expect(store.create(0, 1, 1, configuration, 1)).rejects.toThrow(ErrUnsupportedSnapshotVersion);
    await expect(store.create(2, 1, 1, configuration, 1)).rejects.toThrow(ErrUnsupportedSnapshotVersion);
  });
});

describe('FileSnapshotStore: layout', () => {
  it('writes <term>-<index>-<ms>.tmp first, then renames it with state.bin and meta.json', async () => {
    const store = await newFileSnapshotStore(base, 2, { clock });
    const sink = await store.create(1, 42, 3, configuration, 7);
    expect(sink.id).toBe('3-42-1700000000123');
    await sink.write(Buffer.from('hello '));
    await sink.write(Buffer.from('snapshot'));
    expect(await readdir(join(base, 'snapshots'))).toEqual(['3-42-1700000000123.tmp']);
    expect(await store.list()).toEqual([]);

    await sink.close();
    expect(await readdir(join(base, 'snapshots'))).toEqual(['3-42-1700000000123']);
    const dir = join(base, 'snapshots', '3-42-1700000000123');
    expect((await readdir(dir)).sort()).toEqual(['meta.json', 'state.bin']);
    expect((await readFile(join(dir, 'state.bin'))).toString()).toBe('hello snapshot');
  });

  it('writes meta.json with the keys, order and encodings of Go encoding/json', async () => {
    const store = await newFileSnapshotStore(base, 2, { clock });
    const data = Buffer.from('hello snapshot');
    const id = await writeSnapshot(store, 3, 42, data);
    const text = await readFile(join(base, 'snapshots', id, 'meta.json'), 'utf8');
    expect(text.endsWith('}\n')).toBe(true);
    const json = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual([
      'Version',
      'ID',
      'Index',
      'Term',
      'Peers',
      'Configuration',
      'ConfigurationIndex',
      'Size',
      'CRC',
    ]);
    expect(json).toMatchObject({ Version: 1, ID: id, Index: 42, Term: 3, ConfigurationIndex: 7, Size: 14 });
    const servers = (json.Configuration as { Servers: Record<string, unknown>[] }).Servers;
    expect(servers.map((s) => Object.keys(s))).toEqual(Array(3).fill(['Suffrage', 'ID', 'Address']));
    expect(servers[1]).toEqual({ Suffrage: 1, ID: 'n2', Address: '127.0.0.1:7002' });
    expect(Buffer.from(json.CRC as string, 'base64')).toEqual(Buffer.from(crc64(data)));
    expect(decodePeers(Buffer.from(json.Peers as string, 'base64'))).toEqual([
      '127.0.0.1:7001',
      '127.0.0.1:7003',
    ]);
  });

  it('escapes <, > and & in strings as Go does', async () => {
    const store = await newFileSnapshotStore(base, 2, { clock });
    const odd: Configuration = {
      servers: [{ suffrage: ServerSuffrage.Voter, id: 'a<b>&c', address: 'h:1' }],
    };
    const id = await writeSnapshot(store, 1, 1, Buffer.from('x'), odd);
    const text = await readFile(join(base, 'snapshots', id, 'meta.json'), 'utf8');
    expect(text).toContain('"ID":"a\\u003cb\\u003e\\u0026c"');
    expect((await store.list())[0].configuration).toEqual(odd);
  });

  it('reads back what it wrote through list() and open()', async () => {
    const store = await newFileSnapshotStore(base, 2, { clock });
    const id = await writeSnapshot(store, 3, 42, Buffer.from('hello snapshot'));
    const expected = {
      version: 1,
      id,
      index: 42,
      term: 3,
      configuration,
      configurationIndex: 7,
      size: 14,
    };
    expect(await store.list()).toEqual([expected]);
    const { meta, reader } = await store.open(id);
    expect(meta).toEqual(expected);
    expect((await readAll(reader)).toString()).toBe('hello snapshot');
  });

  it('reads a snapshot directory written by Go', async () => {
    const data = Buffer.from('{"k":"dg=="}');
    const id = '5-100-1699999999999';
    const dir = join(base, 'snapshots', id);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'state.bin'), data);
    const crc = Buffer.from(crc64(data)).toString('base64');
    await writeFile(
      join(dir, 'meta.json'),
      `{"Version":1,"ID":"${id}","Index":100,"Term":5,"Peers":"ka0xMC4wLjAuMTo4MzAw",` +
        `"Configuration":{"Servers":[{"Suffrage":0,"ID":"a","Address":"10.0.0.1:8300"}]},` +
        `"ConfigurationIndex":9,"Size":${data.length},"CRC":"${crc}"}\n`,
    );
    const store = await newFileSnapshotStore(base, 2, { clock });
    const [meta] = await store.list();
    expect(meta).toEqual({
      version: 1,
      id,
      index: 100,
      term: 5,
      configuration: { servers: [{ suffrage: ServerSuffrage.Voter, id: 'a', address: '10.0.0.1:8300' }] },
      configurationIndex: 9,
      size: data.length,
    });
    await store.verify(id);
    expect(await readAll((await store.open(id)).reader)).toEqual(data);
  });
});

describe('FileSnapshotStore: version 0 metadata', () => {
  it('turns the legacy Peers list into voters whose ID is their address', async () => {
    const id = '2-7-1600000000000';
    const dir = join(base, 'snapshots', id);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'state.bin'), '');
    await writeFile(
      join(dir, 'meta.json'),
      `{"Version":0,"ID":"${id}","Index":7,"Term":2,"Peers":"ka0xMC4wLjAuMTo4MzAw",` +
        `"Configuration":{"Servers":null},"ConfigurationIndex":0,"Size":0,"CRC":"AAAAAAAAAAA="}\n`,
    );
    const store = await newFileSnapshotStore(base, 1, { clock });
    const [meta] = await store.list();
    expect(meta.version).toBe(0);
    expect(meta.configuration).toEqual({
      servers: [{ suffrage: ServerSuffrage.Voter, id: '10.0.0.1:8300', address: '10.0.0.1:8300' }],
    });
    await store.verify(id);
  });
});

describe('FileSnapshotStore: listing and retention', () => {
  it('lists newest first by (term, index, id) and at most retain', async () => {
    const store = await newFileSnapshotStore(base, 10, { clock });
    const ids: string[] = [];
    for (const [term, index, wall] of [
      [2, 50, 5_000],
      [3, 10, 1_000],
      [2, 60, 2_000],
      [3, 10, 9_000],
      [1, 99, 8_000],
    ]) {
      clock.wall = wall;
      ids.push(await writeSnapshot(store, term, index, Buffer.from(`t${term}i${index}`)));
    }
    const listed = (await store.list()).map((m) => m.id);
    expect(listed).toEqual(['3-10-9000', '3-10-1000', '2-60-2000', '2-50-5000', '1-99-8000']);
    expect(new Set(listed)).toEqual(new Set(ids));
  });

  it('deletes snapshots beyond retain, oldest first, when one is closed', async () => {
    const store = await newFileSnapshotStore(base, 2, { clock });
    for (let index = 1; index <= 4; index++) {
      clock.wall += 10;
      await writeSnapshot(store, 1, index * 10, Buffer.from(`snapshot ${index}`));
    }
    const names = (await readdir(join(base, 'snapshots'))).sort();
    expect(names).toEqual(['1-30-1700000000153', '1-40-1700000000163']);
    expect((await store.list()).map((m) => m.index)).toEqual([40, 30]);
  });

  it('gives distinct IDs to snapshots created in the same millisecond', async () => {
    const store = await newFileSnapshotStore(base, 5, { clock });
    const first = await writeSnapshot(store, 1, 10, Buffer.from('a'));
    const second = await writeSnapshot(store, 1, 10, Buffer.from('b'));
    const third = await store.create(1, 10, 1, configuration, 7);
    expect(new Set([first, second, third.id]).size).toBe(3);
    await third.cancel();
    expect(await store.list()).toHaveLength(2);
  });

  it('skips a snapshot whose meta.json is not valid JSON, and open() calls it corrupt', async () => {
    const store = await newFileSnapshotStore(base, 5, { clock });
    const good = await writeSnapshot(store, 1, 10, Buffer.from('good'));
    clock.wall++;
    const bad = await writeSnapshot(store, 2, 20, Buffer.from('bad'));
    await writeFile(join(base, 'snapshots', bad, 'meta.json'), '{"Version":1,"ID":');
    expect((await store.list()).map((m) => m.id)).toEqual([good]);
    await expect(store.open(bad)).rejects.toThrow(ErrSnapshotCorrupt);
  });

  it('skips meta.json with a version outside 0..1 or with wrong field types', async () => {
    const store = await newFileSnapshotStore(base, 5, { clock });
    const future = await writeSnapshot(store, 1, 10, Buffer.from('a'));
    clock.wall++;
    const wrongType = await writeSnapshot(store, 1, 11, Buffer.from('b'));
    const metaPath = (id: string) => join(base, 'snapshots', id, 'meta.json');
    await writeFile(
      metaPath(future),
      (await readFile(metaPath(future), 'utf8')).replace('"Version":1', '"Version":2'),
    );
    await writeFile(
      metaPath(wrongType),
      (await readFile(metaPath(wrongType), 'utf8')).replace('"Index":11', '"Index":"11"'),
    );
    expect(await store.list()).toEqual([]);
  });

  it('rejects unknown and path-like IDs with ErrSnapshotNotFound', async () => {
    const store = await newFileSnapshotStore(base, 1, { clock });
    await expect(store.open('1-2-3')).rejects.toThrow(ErrSnapshotNotFound);
    await expect(store.open('../snapshots')).rejects.toThrow(ErrSnapshotNotFound);
    await expect(store.open('..')).rejects.toThrow(ErrSnapshotNotFound);
    await expect(store.open('')).rejects.toThrow(ErrSnapshotNotFound);
  });
});

describe('FileSnapshotStore: sinks', () => {
  it('cancel() leaves nothing behind and later writes are refused', async () => {
    const store = await newFileSnapshotStore(base, 1, { clock });
    const sink = await store.create(1, 5, 1, configuration, 1);
    await sink.write(Buffer.alloc(3_000_000, 1));
    await sink.cancel();
    expect(await readdir(join(base, 'snapshots'))).toEqual([]);
    expect(await store.list()).toEqual([]);
    await expect(sink.write(Buffer.from('x'))).rejects.toThrow(ErrSnapshotStore);
    await sink.close();
    expect(await readdir(join(base, 'snapshots'))).toEqual([]);
  });

  it('close() fails with ErrSnapshotStore and publishes nothing when the directory vanished', async () => {
    const store = await newFileSnapshotStore(base, 1, { clock });
    const sink = await store.create(1, 5, 1, configuration, 1);
    await sink.write(Buffer.from('data'));
    await rm(join(base, 'snapshots', `${sink.id}.tmp`), { recursive: true });
    await expect(sink.close()).rejects.toThrow(ErrSnapshotStore);
    expect(await readdir(join(base, 'snapshots'))).toEqual([]);
    expect(await store.list()).toEqual([]);
  });

  it('keeps bytes and order through tiny, huge and unawaited writes, even if the caller reuses its buffer', async () => {
    const store = await newFileSnapshotStore(base, 1, { clock });
    const sink = await store.create(1, 5, 1, configuration, 1);
    const expected: Buffer[] = [];
    const scratch = Buffer.alloc(100);
    for (let i = 0; i < 20_000; i++) {
      scratch.fill(i % 251);
      await sink.write(scratch.subarray(0, (i % 97) + 1));
      expected.push(Buffer.alloc((i % 97) + 1, i % 251));
    }
    const huge = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
    expected.push(huge);
    const pending = [sink.write(huge), sink.write(Buffer.from('tail-1')), sink.write(Buffer.from('tail-2'))];
    expected.push(Buffer.from('tail-1tail-2'));
    await Promise.all(pending);
    await sink.close();
    const { meta, reader } = await store.open(sink.id);
    const all = Buffer.concat(expected);
    expect(meta.size).toBe(all.length);
    expect((await readAll(reader)).equals(all)).toBe(true);
  });
});

describe('FileSnapshotStore: corruption', () => {
  async function storeWithSnapshot(): Promise<{ store: FileSnapshotStore; id: string; statePath: string }> {
    const store = await newFileSnapshotStore(base, 2, { clock });
    const data = Buffer.alloc(600_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const id = await writeSnapshot(store, 4, 400, data);
    return { store, id, statePath: join(base, 'snapshots', id, 'state.bin') };
  }

  it('verify() passes for an intact snapshot', async () => {
    const { store, id } = await storeWithSnapshot();
    await expect(store.verify(id)).resolves.toBeUndefined();
  });

  it('a truncated state.bin fails verify() and open() with ErrSnapshotCorrupt naming the snapshot', async () => {
    const { store, id, statePath } = await storeWithSnapshot();
    await truncate(statePath, 500_000);
    await expect(store.verify(id)).rejects.toThrow(ErrSnapshotCorrupt);
    await expect(store.verify(id)).rejects.toThrow(id);
    await expect(store.open(id)).rejects.toThrow(ErrSnapshotCorrupt);
  });

  it('a state.bin truncated while it streams makes the reader fail with ErrSnapshotCorrupt', async () => {
    const { store, id, statePath } = await storeWithSnapshot();
    const { reader } = await store.open(id);
    await truncate(statePath, 1_000);
    const failure = await readAll(reader).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ErrSnapshotCorrupt);
    expect((failure as Error).message).toContain(id);
  });

  it('a flipped bit fails verify() and the streaming reader with ErrSnapshotCorrupt naming the snapshot', async () => {
    const { store, id, statePath } = await storeWithSnapshot();
    const bytes = await readFile(statePath);
    bytes[123_456] ^= 0x04;
    await writeFile(statePath, bytes);

    const verifyFailure = await store.verify(id).catch((err: unknown) => err);
    expect(verifyFailure).toBeInstanceOf(ErrSnapshotCorrupt);
    expect((verifyFailure as Error).message).toContain(id);
    expect((verifyFailure as Error).message).toContain('CRC');

    const { reader } = await store.open(id);
    let delivered = 0;
    const streamFailure = await (async () => {
      for await (const chunk of reader) delivered += (chunk as Buffer).length;
    })().catch((err: unknown) => err);
    expect(streamFailure).toBeInstanceOf(ErrSnapshotCorrupt);
    expect((streamFailure as Error).message).toContain(id);
    expect(delivered).toBe(bytes.length);
  });

  it('a meta.json without CRC makes the snapshot unopenable', async () => {
    const { store, id } = await storeWithSnapshot();
    const metaPath = join(base, 'snapshots', id, 'meta.json');
    await writeFile(metaPath, (await readFile(metaPath, 'utf8')).replace(/"CRC":"[^"]*"/, '"CRC":null'));
    await expect(store.open(id)).rejects.toThrow(ErrSnapshotCorrupt);
  });
});

describe('FileSnapshotStore: crash safety', () => {
  it('ignores a .tmp directory left by a crash and removes it when a store starts', async () => {
    const store = await newFileSnapshotStore(base, 2, { clock });
    const kept = await writeSnapshot(store, 1, 10, Buffer.from('kept'));
    const crashed = join(base, 'snapshots', '2-20-1700000000999.tmp');
    await mkdir(crashed);
    await writeFile(join(crashed, 'state.bin'), Buffer.alloc(1000, 9));
    expect((await store.list()).map((m) => m.id)).toEqual([kept]);
    await expect(store.open('2-20-1700000000999.tmp')).rejects.toThrow(ErrSnapshotNotFound);

    const restarted = await newFileSnapshotStore(base, 2, { clock });
    expect(await readdir(join(base, 'snapshots'))).toEqual([kept]);
    expect((await restarted.list()).map((m) => m.id)).toEqual([kept]);
  });

  it('does not reuse the name of a leftover directory', async () => {
    const store = await newFileSnapshotStore(base, 2, { clock });
    await mkdir(join(base, 'snapshots', '1-10-1700000000123'));
    const sink = await store.create(1, 10, 1, configuration, 1);
    expect(sink.id).not.toBe('1-10-1700000000123');
    await sink.cancel();
  });
});
