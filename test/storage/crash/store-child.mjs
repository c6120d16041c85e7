// The crash test's victim: runs a plan (store-crash-model.ts) against a durable store (LmdbStore
// or WalStore) and prints an
// acknowledgement for each operation once it is durable, until the parent SIGKILLs it.
//
// Plain JavaScript on purpose: it runs under `node` without a TypeScript loader and imports the
// compiled store from dist/, which `npm test` builds first (`pretest: npm run build`). Run
// `npm run build` before running the crash test on its own after changing src/storage.
//
// Usage: node store-child.mjs <lmdb|wal> <store path> <plan.json> <mode>
//   lmdb - LmdbStore at the path (a file); wal - WalStore in the path (a directory), with 16 KiB
//          segments so that kills also land while segments are created and compacted away
//   mode durable   - acknowledge after the operation's promises resolved (the real contract)
//   mode early-ack - acknowledge as soon as the writes are issued (a broken store, for the self-test)
//   mode nosync    - like durable, but the store is opened with noSync
// Output lines: "ready", then "ack <n>" (operations 1..n are acknowledged). At the end of the plan
// it closes the store and exits 0.
import { Buffer } from 'node:buffer';
import { readFileSync, writeSync } from 'node:fs';
import process from 'node:process';
import { LmdbStore } from '../../../dist/storage/lmdb.js';
import { WalStore } from '../../../dist/storage/wal.js';

const [kind, path, planPath, mode] = process.argv.slice(2);
const plan = JSON.parse(readFileSync(planPath, 'utf8'));

// An acknowledgement must be in the parent's pipe before the child goes on: process.stdout may
// buffer in the process (and a SIGKILL then loses the line), so write(2) fd 1 directly, retrying
// while a non-blocking pipe is full.
function say(line) {
  const bytes = Buffer.from(`${line}\n`);
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(1, bytes, written);
    } catch (error) {
      if (error.code !== 'EAGAIN') throw error;
    }
  }
}

function toEntry([index, term, type, data, extensions, appendedAt]) {
  return {
    index,
    term,
    type,
    data: Buffer.from(data, 'base64'),
    extensions: Buffer.from(extensions, 'base64'),
    appendedAt,
  };
}

/** Issues all writes of one operation in this synchronous turn, as the runtime does. */
function issue(store, op) {
  const writes = [];
  if (op.del) writes.push(store.deleteRange(op.del[0], op.del[1]));
  if (op.logs) writes.push(store.storeLogs(op.logs.map(toEntry)));
  for (const [key, value] of op.u64 ?? []) writes.push(store.setUint64(key, value));
  for (const [key, value] of op.bytes ?? []) writes.push(store.set(key, Buffer.from(value, 'base64')));
  return Promise.all(writes);
}

const noSync = mode === 'nosync';
const store =
  kind === 'wal'
    ? await WalStore.open(path, { noSync, segmentBytes: 16 * 1024 })
    : await LmdbStore.open(path, { noSync });
say('ready');
const inFlight = [];
for (let n = 1; n <= plan.ops.length; n++) {
  const written = issue(store, plan.ops[n - 1]);
  if (mode === 'early-ack') {
    say(`ack ${n}`);
    inFlight.push(written);
  } else {
    inFlight.push(written.then(() => say(`ack ${n}`)));
  }
  if (inFlight.length >= plan.depth) await inFlight.shift();
}
await Promise.all(inFlight);
await store.close();
