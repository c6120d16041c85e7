// The descriptor-exhaustion test's child (test/storage/descriptor-exhaustion.test.ts): run under
// a lowered limit (`prlimit --nofile=N:N node exhaust-child.mjs <dir>`), it opens a WalStore with
// small segments and a FileSnapshotStore, takes every descriptor left (/dev/null until EMFILE),
// appends across several segments' worth of bytes, tries the snapshot store, frees the
// descriptors, waits for the WAL to pre-create its next segment again, appends more, then reopens
// the WAL and checks every acknowledged entry. One line per step on stdout; exit 0 at the end.
//
// Plain JavaScript importing the compiled stores from dist/ (`npm test` builds first).
import { Buffer } from 'node:buffer';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { WalStore } from '../../../dist/storage/wal.js';
import { newFileSnapshotStore } from '../../../dist/storage/file-snapshot.js';
import { sleep, systemClock } from '../../../dist/platform/clock.js';

const [dir] = process.argv.slice(2);
const say = (line) => process.stdout.write(`${line}\n`);
const warnings = [];
const logger = { info: () => {}, warn: (_fields, message) => warnings.push(message) };
const configuration = { servers: [{ suffrage: 0, id: 'n1', address: '127.0.0.1:7001' }] };

function entry(index) {
  const data = Buffer.alloc(100, index & 0xff);
  return {
    index,
    term: 1,
    type: 1,
    data,
    extensions: new Uint8Array(),
    appendedAt: 1_700_000_000_000 + index,
  };
}

const walDir = join(dir, 'wal');
const store = await WalStore.open(walDir, { segmentBytes: 4096, logger });
const snapshots = await newFileSnapshotStore(dir, 2, { clock: systemClock, logger });
const sink = await snapshots.create(1, 1, 1, configuration, 1);
await sink.write(Buffer.from('state'));
await sink.close();
let last = 0;

async function append(batches) {
  for (let i = 0; i < batches; i++) {
    const batch = [];
    for (let k = 0; k < 10; k++) batch.push(entry(last + 1 + k));
    await store.storeLogs(batch);
    last += 10;
  }
  say(`acked ${last} segments ${store.segmentNumbers().length}`);
}

await append(5);
const held = [];
try {
  for (;;) held.push(openSync('/dev/null', 'r'));
} catch (error) {
  if (error.code !== 'EMFILE') throw error;
}
say(`exhausted ${held.length}`);
// About 60 KB: some fifteen segments' worth.
await append(60);
for (const attempt of [() => snapshots.list(), () => snapshots.create(1, 2, 1, configuration, 1)]) {
  try {
    await attempt();
    say('snapshot ok');
  } catch (error) {
    say(`snapshot ${error.name}`);
  }
}
for (const fd of held) closeSync(fd);
say('freed');
const start = systemClock.now();
while (!store.hasSpareSegment() && systemClock.now() - start < 20_000) await sleep(systemClock, 20);
say(`spare ${store.hasSpareSegment()}`);
await append(60);
say(`listed ${(await snapshots.list()).length}`);
say(`warned ${warnings.some((w) => /cannot create its next segment/.test(w))}`);
await store.close();
const reopened = await WalStore.open(walDir, { logger });
const read = await reopened.getLogs(1, last);
const intact = read.every(
  (e, i) => e.index === i + 1 && e.data.length === 100 && e.data[0] === ((i + 1) & 0xff),
);
say(`reopened ${await reopened.firstIndex()}..${await reopened.lastIndex()} intact ${intact}`);
await reopened.close();
