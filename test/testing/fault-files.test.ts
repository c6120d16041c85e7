import { constants as fsConstants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { O_CREATE_WRITE, O_READ } from '../../src/storage/file-system.js';
import {
  FaultyFileSystem,
  SimulatedCrash,
  faultyFileSystem,
  parseFaultSpec,
} from '../../src/testing/fault-files.js';
import { useTempDir } from '../support/temp-dir.js';

const temp = useTempDir('raftkit-fault-files-');

describe('parseFaultSpec', () => {
  it('reads the documented example', () => {
    expect(
      parseFaultSpec('seed=7;fsync-fail:after=100;torn-write:p=0.01;eio-read:p=0.001;emfile-open:count=3'),
    ).toEqual({
      seed: 7,
      rules: [
        { kind: 'fsync-fail', after: 100, probability: 1, count: Infinity, path: '' },
        { kind: 'torn-write', after: 0, probability: 0.01, count: Infinity, path: '' },
        { kind: 'eio-read', after: 0, probability: 0.001, count: Infinity, path: '' },
        { kind: 'emfile-open', after: 0, probability: 1, count: 3, path: '' },
      ],
    });
    expect(parseFaultSpec('')).toEqual({ seed: 1, rules: [] });
    expect(parseFaultSpec(' emfile-open:path=.wal , count=2 ').rules[0]).toMatchObject({
      path: '.wal',
      count: 2,
    });
  });

  it('refuses what it does not understand, naming it', () => {
    expect(() => parseFaultSpec('fsync-fial')).toThrow(/unknown fault "fsync-fial"/);
    expect(() => parseFaultSpec('eio-read:q=1')).toThrow(/unknown key "q"/);
    expect(() => parseFaultSpec('eio-read:p=2')).toThrow(/p must be a number in 0\.\.1/);
    expect(() => parseFaultSpec('eio-read:after=-1')).toThrow(/after must be a non-negative integer/);
    expect(() => parseFaultSpec('eio-read:count')).toThrow(/not key=value/);
    expect(() => parseFaultSpec('seed=x')).toThrow(/seed/);
  });
});

describe('FaultyFileSystem', () => {
  /** Opens one file per attempt and reports which attempts failed with EMFILE. */
  async function emfilePattern(files: FaultyFileSystem, attempts: number): Promise<number[]> {
    const failed: number[] = [];
    for (let i = 0; i < attempts; i++) {
      try {
        await (await files.open(join(temp.path, `f${i}`), O_CREATE_WRITE)).close();
      } catch (error) {
        expect((error as NodeJS.ErrnoException).code).toBe('EMFILE');
        failed.push(i);
      }
    }
    return failed;
  }

  it('counts after and count per rule, and draws p from its seed (same seed, same faults)', async () => {
    expect(await emfilePattern(faultyFileSystem('emfile-open:after=2,count=3'), 8)).toEqual([2, 3, 4]);
    const a = await emfilePattern(faultyFileSystem('seed=5;emfile-open:p=0.5'), 40);
    const b = await emfilePattern(faultyFileSystem('seed=5;emfile-open:p=0.5'), 40);
    const c = await emfilePattern(faultyFileSystem('seed=6;emfile-open:p=0.5'), 40);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.length).toBeGreaterThan(8);
    expect(a.length).toBeLessThan(32);
  });

  it('fails syncs, and writes to O_DSYNC files, with EIO; plain writes are not syncs', async () => {
    const files = faultyFileSystem('fsync-fail');
    const plain = await files.open(join(temp.path, 'plain'), O_CREATE_WRITE);
    await plain.write(Buffer.from('x'), 0, 1, 0);
    await expect(plain.datasync()).rejects.toMatchObject({ code: 'EIO' });
    await expect(plain.sync()).rejects.toMatchObject({ code: 'EIO' });
    await plain.close();
    const dsync = await files.open(join(temp.path, 'dsync'), O_CREATE_WRITE | fsConstants.O_DSYNC);
    await expect(dsync.write(Buffer.from('y'), 0, 1, 0)).rejects.toMatchObject({
      code: 'EIO',
      syscall: 'write',
    });
    await dsync.close();
    expect(files.injected['fsync-fail']).toBe(3);
  });

  it('tears a write: a prefix lands, then every call fails as if the process had died', async () => {
    let crashes = 0;
    const files = faultyFileSystem('seed=3;torn-write:after=1', { onCrash: () => crashes++ });
    const path = join(temp.path, 'torn');
    const file = await files.open(path, O_CREATE_WRITE);
    await file.write(Buffer.from('whole.'), 0, 6, 0);
    const bytes = Buffer.from('this write is torn');
    await expect(file.write(bytes, 0, bytes.length, 6)).rejects.toBeInstanceOf(SimulatedCrash);
    const onDisk = await readFile(path);
    expect(onDisk.length).toBeLessThan(6 + bytes.length);
    expect(onDisk.toString()).toBe(('whole.' + bytes.toString()).slice(0, onDisk.length));
    expect(files.isCrashed).toBe(true);
    expect(crashes).toBe(1);
    await expect(file.write(bytes, 0, 1, 0)).rejects.toBeInstanceOf(SimulatedCrash);
    await expect(files.open(path, O_READ)).rejects.toBeInstanceOf(SimulatedCrash);
    await expect(files.readdir(temp.path)).rejects.toBeInstanceOf(SimulatedCrash);
    await file.close();
  });

  it('fails reads with EIO on the paths a rule names, and only there', async () => {
    const files = faultyFileSystem('eio-read:path=bad');
    for (const name of ['good', 'bad']) {
      const file = await files.open(join(temp.path, name), O_CREATE_WRITE);
      await file.write(Buffer.from('data'), 0, 4, 0);
      await file.close();
    }
    const good = await files.open(join(temp.path, 'good'), O_READ);
    expect((await good.read(Buffer.alloc(4), 0, 4, 0)).bytesRead).toBe(4);
    await good.close();
    const bad = await files.open(join(temp.path, 'bad'), O_READ);
    await expect(bad.read(Buffer.alloc(4), 0, 4, 0)).rejects.toMatchObject({ code: 'EIO' });
    await bad.close();
  });

  it('holds writes until released', async () => {
    const files = faultyFileSystem('');
    const file = await files.open(join(temp.path, 'held'), O_CREATE_WRITE);
    const hold = files.holdWrites();
    let done = false;
    const write = file.write(Buffer.from('z'), 0, 1, 0).then(() => (done = true));
    await hold.parked;
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(false);
    hold.release();
    await write;
    expect(done).toBe(true);
    await file.close();
  });
});
