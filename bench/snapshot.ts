/**
 * Snapshot throughput: CRC-64 alone, then FileSnapshotStore write (incl. fsync and rename),
 * verify() and a streaming open() read, each in MB/s.
 *
 *   node <compiled>/bench/snapshot.js [MiB=256] [chunk KiB=64]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ServerSuffrage } from '../src/core/types.js';
import { systemClock } from '../src/platform/clock.js';
import { Crc64 } from '../src/storage/crc64.js';
import { newFileSnapshotStore } from '../src/storage/file-snapshot.js';

const totalMiB = Number(process.argv[2] ?? 256);
const chunkKiB = Number(process.argv[3] ?? 64);
const totalBytes = totalMiB * 1024 * 1024;
const chunk = Buffer.alloc(chunkKiB * 1024);
for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 131 + 7) & 0xff;
const chunks = Math.ceil(totalBytes / chunk.length);

async function timed(label: string, bytes: number, run: () => Promise<void>): Promise<void> {
  const start = performance.now();
  await run();
  const seconds = (performance.now() - start) / 1000;
  const mbPerSecond = bytes / 1e6 / seconds;
  console.log(`${label.padEnd(28)} ${mbPerSecond.toFixed(0).padStart(6)} MB/s  (${seconds.toFixed(2)} s)`);
}

async function main(): Promise<void> {
  console.log(`snapshot bench: ${totalMiB} MiB in ${chunkKiB} KiB chunks, node ${process.version}`);
  await timed('crc64 only', chunks * chunk.length, async () => {
    const crc = new Crc64();
    for (let i = 0; i < chunks; i++) crc.update(chunk);
  });

  const base = await mkdtemp(join(tmpdir(), 'raftkit-bench-snap-'));
  try {
    const store = await newFileSnapshotStore(base, 1, { clock: systemClock });
    const configuration = {
      servers: [{ suffrage: ServerSuffrage.Voter, id: 'n1', address: '127.0.0.1:7001' }],
    };
    let id = '';
    await timed('write + crc + fsync', chunks * chunk.length, async () => {
      const sink = await store.create(1, 1000, 1, configuration, 1);
      for (let i = 0; i < chunks; i++) await sink.write(chunk);
      await sink.close();
      id = sink.id;
    });
    await timed('verify (read + crc)', chunks * chunk.length, () => store.verify(id));
    await timed('open + stream (read + crc)', chunks * chunk.length, async () => {
      const { reader } = await store.open(id);
      for await (const piece of reader) void piece;
    });
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

await main();
