/**
 * Sealed-segment indexes (src/storage/wal-seal-index.ts): an open takes a sealed segment's state
 * from its index without reading the segment, damage in the segment is still reported when an
 * entry is read, and a missing, damaged or foreign index is rebuilt by a scan. The state a store
 * opens to is the same with and without indexes.
 */
import { cp, mkdtemp, open, readFile, readdir, rm, stat, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrStoreCorrupt } from '../../src/core/errors.js';
import { LogType, type LogEntry } from '../../src/core/types.js';
import type { StoreLogger } from '../../src/storage/types.js';
import { WalStore, type WalStoreOptions } from '../../src/storage/wal.js';
import { entries, entry, plain } from './store-conformance.js';

const SEGMENT_BYTES = 4096;
const FIXTURE = join(import.meta.dirname, 'fixtures', 'wal-v1');

/** A logger that keeps what it is told. */
function recordingLogger(): StoreLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (fields, message) => lines.push(`info ${message} ${JSON.stringify(fields)}`),
    warn: (fields, message) => lines.push(`warn ${message} ${JSON.stringify(fields)}`),
  };
}

let dir: string;
let walDir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raftkit-widx-'));
  walDir = join(dir, 'wal');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function options(logger: StoreLogger = recordingLogger()): WalStoreOptions {
  return { segmentBytes: SEGMENT_BYTES, preallocate: false, noSync: true, logger };
}

async function filesEnding(suffix: string): Promise<string[]> {
  return (await readdir(walDir)).filter((name) => name.endsWith(suffix)).sort();
}

/** Everything the store at `walDir` holds, as text, and what it logged while opening. */
async function stateOf(): Promise<{ state: string; log: string[] }> {
  const logger = recordingLogger();
  const store = await WalStore.open(walDir, options(logger));
  try {
    const first = await store.firstIndex();
    const last = await store.lastIndex();
    const logs = last === 0 ? [] : plain(await store.getLogs(first, last));
    const terms = last === 0 ? [] : [...(await store.entryTerms(first, last)).terms];
    const stable: Record<string, string> = {};
    for (const key of ['CurrentTerm', 'LastVoteCand']) {
      stable[key] = await store.get(key).then(
        (value) => Buffer.from(value).toString('hex'),
        () => 'absent',
      );
    }
    return { state: JSON.stringify({ first, last, logs, terms, stable }), log: logger.lines };
  } finally {
    await store.close();
  }
}

/** Writes conflicts, compactions and stable changes across many small segments. */
async function writeHistory(store: WalStore): Promise<void> {
  await store.setUint64('CurrentTerm', 1);
  for (let i = 1; i <= 300; i += 10) await store.storeLogs(entries(i, i + 9, 1));
  await store.deleteRange(281, 300);
  await store.setUint64('CurrentTerm', 2);
  await store.set('LastVoteCand', Buffer.from('n2'));
  await store.storeLogs(entries(281, 330, 2));
  await store.deleteRange(1, 120);
  // A conflict that reaches back into a sealed segment.
  await store.deleteRange(300, 330);
  await store.storeLogs(entries(300, 420, 3));
}

describe('WalStore sealed-segment indexes', () => {
  it('opens a data directory of the format before indexes, indexes it, and reopens to the same state', async () => {
    await cp(FIXTURE, walDir, { recursive: true });
    expect(await filesEnding('.idx')).toEqual([]);
    const first = await stateOf();
    // The fixture (written by the store before indexes): 1..200 in term 1, 191..250 replaced in
    // term 2, compacted to 41.
    const expected: LogEntry[] = [];
    for (let index = 41; index <= 250; index++) {
      const term = index >= 191 ? 2 : 1;
      expected.push({
        index,
        term,
        type: LogType.Noop,
        data: Buffer.from(`entry ${index} term ${term}`),
        extensions: new Uint8Array(0),
        appendedAt: 0,
      });
    }
    const state = JSON.parse(first.state);
    expect(state.logs).toEqual(plain(expected));
    expect(state.stable).toEqual({
      CurrentTerm: Buffer.from([0, 0, 0, 0, 0, 0, 0, 2]).toString('hex'),
      LastVoteCand: Buffer.from('n2').toString('hex'),
    });
    const segments = await filesEnding('.wal');
    // Every sealed segment got an index; the newest (still written to) has none.
    expect(await filesEnding('.idx')).toEqual(
      segments.slice(0, -1).map((name) => name.replace('.wal', '.idx')),
    );
    expect(first.log.filter((line) => line.includes('has no index yet'))).toHaveLength(segments.length - 1);
    const second = await stateOf();
    expect(second.state).toBe(first.state);
    expect(second.log).toEqual([]);
  });

  it('opens to the same state from indexes as from scanning every segment', async () => {
    const store = await WalStore.open(walDir, options());
    await writeHistory(store);
    await store.close();
    expect((await filesEnding('.idx')).length).toBeGreaterThan(3);
    const indexed = await stateOf();
    expect(indexed.log).toEqual([]);
    for (const name of await filesEnding('.idx')) await rm(join(walDir, name));
    const scanned = await stateOf();
    expect(scanned.log.length).toBeGreaterThan(3);
    expect(scanned.state).toBe(indexed.state);
    expect(JSON.parse(indexed.state)).toMatchObject({ first: 121, last: 420 });
  });

  it('detects a damaged record of a sealed segment when the entry is read, and serves the others', async () => {
    const store = await WalStore.open(walDir, options());
    for (let i = 1; i <= 300; i += 10) await store.storeLogs(entries(i, i + 9));
    await store.close();
    const [, second] = await filesEnding('.wal');
    const path = join(walDir, second);
    const bytes = await readFile(path);
    // Damage one byte of an entry's data in the middle of a sealed segment.
    const victim = 100;
    const at = bytes.indexOf(Buffer.from(entry(victim).data)) + 5;
    expect(at).toBeGreaterThan(5);
    const handle = await open(path, 'r+');
    await handle.write(Buffer.from([bytes[at] ^ 0x10]), 0, 1, at);
    await handle.close();

    const logger = recordingLogger();
    const damaged = await WalStore.open(walDir, options(logger));
    try {
      // The open used the index: it neither read nor checked the segment's records.
      expect(logger.lines).toEqual([]);
      expect(await damaged.lastIndex()).toBe(300);
      const error = await damaged.getLogs(1, 300).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ErrStoreCorrupt);
      expect((error as Error).message).toMatch(/checksum mismatch/);
      await expect(damaged.getLog(victim)).rejects.toBeInstanceOf(ErrStoreCorrupt);
      expect(plain([await damaged.getLog(victim - 1)])).toEqual(plain([entry(victim - 1)]));
      expect(plain([await damaged.getLog(300)])).toEqual(plain([entry(300)]));
    } finally {
      await damaged.close();
    }
    // Without its index the scan finds the damage at open, as before indexes.
    await rm(join(walDir, second.replace('.wal', '.idx')));
    await expect(WalStore.open(walDir, options())).rejects.toThrow(/sealed segment is damaged/);
  });

  it('rebuilds a damaged, missing or foreign index by scanning, and says so', async () => {
    const store = await WalStore.open(walDir, options());
    await writeHistory(store);
    await store.close();
    const good = await stateOf();
    const [first, second, third] = await filesEnding('.idx');
    const original = await readFile(join(walDir, second));
    const flipped = Buffer.from(original);
    flipped[flipped.length >> 1] ^= 0x01;
    await writeFile(join(walDir, second), flipped);
    await rm(join(walDir, third));
    await writeFile(join(walDir, first), original);

    const rebuilt = await stateOf();
    expect(rebuilt.state).toBe(good.state);
    expect(rebuilt.log).toHaveLength(3);
    expect(rebuilt.log.filter((line) => line.startsWith('warn') && line.includes('unusable'))).toHaveLength(
      2,
    );
    expect(rebuilt.log.join('\n')).toMatch(/checksum mismatch/);
    expect(rebuilt.log.join('\n')).toMatch(/names another segment/);
    expect(rebuilt.log.filter((line) => line.includes('has no index yet'))).toHaveLength(1);
    // Written again as it was.
    expect(await readFile(join(walDir, second))).toEqual(original);
    const after = await stateOf();
    expect(after.log).toEqual([]);
    expect(after.state).toBe(good.state);
  });

  it('still cuts a torn tail off the newest segment at an indexed open', async () => {
    const store = await WalStore.open(walDir, options());
    for (let i = 1; i <= 300; i += 10) await store.storeLogs(entries(i, i + 9));
    await store.close();
    const [newest] = (await filesEnding('.wal')).slice(-1);
    const path = join(walDir, newest);
    const good = (await stat(path)).size;
    await appendFile(path, Buffer.from([0, 0, 0, 40, 1, 2, 3]));
    const reopened = await stateOf();
    expect(reopened.log).toEqual([]);
    expect(JSON.parse(reopened.state)).toMatchObject({ first: 1, last: 300 });
    expect((await stat(path)).size).toBe(good);
  });

  it('indexes a segment whole when it is sealed after a reopen removed the new segment behind it', async () => {
    let store = await WalStore.open(walDir, options());
    for (let i = 1; i <= 100; i += 10) await store.storeLogs(entries(i, i + 9));
    await store.close();
    const segments = await filesEnding('.wal');
    // A crash while the next segment was being created: its file holds nothing whole.
    const next = String(segments.length + 1).padStart(20, '0');
    await writeFile(join(walDir, `${next}.wal`), Buffer.alloc(9, 0));
    store = await WalStore.open(walDir, options());
    expect(await filesEnding('.wal')).toEqual(segments);
    // The previous newest goes on taking writes, then is sealed and indexed.
    for (let i = 101; i <= 200; i += 10) await store.storeLogs(entries(i, i + 9));
    await store.close();
    const indexed = await stateOf();
    expect(indexed.log).toEqual([]);
    expect(JSON.parse(indexed.state).logs).toEqual(plain(entries(1, 200)));
    for (const name of await filesEnding('.idx')) await rm(join(walDir, name));
    expect((await stateOf()).state).toBe(indexed.state);
  });

  it('removes index files left by a crash or without their segment', async () => {
    const store = await WalStore.open(walDir, options());
    await writeHistory(store);
    await store.close();
    await writeFile(join(walDir, '00000000000000000001.idx.tmp'), 'half an index');
    await writeFile(join(walDir, '00000000000000000001.idx'), 'an index of a segment compacted away');
    expect(await filesEnding('.wal')).not.toContain('00000000000000000001.wal');
    await stateOf();
    expect((await readdir(walDir)).filter((name) => name.startsWith('00000000000000000001.'))).toEqual([]);
  });
});
