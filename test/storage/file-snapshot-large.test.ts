/**
 * A 64 MiB snapshot goes to disk and back in 64 KiB pieces while live memory stays far below its
 * size: proof that neither the sink nor the reader holds the whole snapshot.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/platform/clock.js';
import { ServerSuffrage } from '../../src/core/types.js';
import { newFileSnapshotStore } from '../../src/storage/file-snapshot.js';

const CHUNK = 64 * 1024;
const TOTAL = 64 * 1024 * 1024;
const MEMORY_BOUND = 32 * 1024 * 1024;

// Collecting garbage before each sample measures what is still referenced, not what V8 has yet
// to reclaim: a store that buffered the snapshot would keep all 64 MiB alive.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

function liveBytes(): number {
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** Deterministic, non-repeating content for chunk i (so a misplaced chunk changes the digest). */
function fillChunk(buffer: Buffer, i: number): void {
  let state = (i + 1) * 0x9e3779b1;
  for (let offset = 0; offset < buffer.length; offset += 4) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    buffer.writeInt32LE(state | 0, offset);
  }
}

let base: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'raftkit-snap-large-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('FileSnapshotStore: large snapshots stream', () => {
  it('writes and reads back 64 MiB with matching content and bounded live memory', async () => {
    const store = await newFileSnapshotStore(base, 1, { clock: systemClock });
    const configuration = { servers: [{ suffrage: ServerSuffrage.Voter, id: 'n1', address: 'h:1' }] };
    // One small snapshot first, so the baselines already hold what any first write and read costs
    // once (stream machinery, the thread pool's buffers, malloc arenas): the bounds below are about
    // the 64 MiB, not about the first use (in a full run, RSS grew 35.5 MB without this).
    const warm = await store.create(1, 10, 1, configuration, 1);
    for (let i = 0; i < 64; i++) await warm.write(Buffer.alloc(CHUNK, i));
    await warm.close();
    for await (const chunk of (await store.open(warm.id)).reader) void chunk;
    const baseline = liveBytes();
    const rssBaseline = process.memoryUsage().rss;
    let peakLive = 0;

    const written = createHash('sha256');
    const sink = await store.create(1, 1000, 2, configuration, 1);
    const piece = Buffer.alloc(CHUNK);
    for (let i = 0; i < TOTAL / CHUNK; i++) {
      fillChunk(piece, i);
      written.update(piece);
      await sink.write(piece);
      if (i % 128 === 0) peakLive = Math.max(peakLive, liveBytes() - baseline);
    }
    await sink.close();

    await store.verify(sink.id);
    const { meta, reader } = await store.open(sink.id);
    expect(meta.size).toBe(TOTAL);
    const read = createHash('sha256');
    let readBytes = 0;
    let chunks = 0;
    for await (const chunk of reader) {
      read.update(chunk as Buffer);
      readBytes += (chunk as Buffer).length;
      if (++chunks % 32 === 0) peakLive = Math.max(peakLive, liveBytes() - baseline);
    }
    const rssGrowth = process.memoryUsage().rss - rssBaseline;

    expect(readBytes).toBe(TOTAL);
    expect(read.digest('hex')).toBe(written.digest('hex'));
    expect(peakLive).toBeLessThan(MEMORY_BOUND);
    expect(rssGrowth).toBeLessThan(MEMORY_BOUND);
  });
});
