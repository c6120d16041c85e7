/**
 * A NetworkTransport alone in a process, for the tests that measure what peers can make it hold
 * (RSS) or run it out of file descriptors (under `prlimit --nofile`). It imports dist/, which
 * `npm test` builds first (pretest). Options come as JSON in RAFTKIT_TRANSPORT_OPTIONS; commands
 * arrive over the IPC channel:
 *   'stats'            -> { rss, arrayBuffers, stats }   (after settledHeap() when run with --expose-gc)
 *   { dial: address }  -> { ok: true } or { error: name, message }   (a heartbeat to address)
 * Every request is answered at once with success; snapshot data is read and dropped.
 */
import process from 'node:process';
import { setImmediate } from 'node:timers';
import { newTcpTransport } from '../../../dist/transport/tcp.js';

const options = JSON.parse(process.env.RAFTKIT_TRANSPORT_OPTIONS ?? '{}');
const transport = await newTcpTransport('127.0.0.1:0', null, 3, 2000, options);
transport.setHandler((rpc) => {
  if (rpc.data) {
    rpc.data.resume();
    rpc.data.on('end', () => rpc.respond({ term: 3, success: true }));
    return;
  }
  const r = rpc.request;
  if (r.kind === 'appendEntries')
    return rpc.respond({
      term: r.term,
      lastLog: r.prevLogIndex + r.entries.length,
      success: true,
      noRetryBackoff: false,
    });
  rpc.respond(null, new Error(`unexpected ${r.kind}`));
});

const heartbeat = {
  kind: 'appendEntries',
  term: 3,
  leader: { id: 'child', address: transport.localAddr() },
  prevLogIndex: 0,
  prevLogTerm: 0,
  entries: [],
  leaderCommitIndex: 0,
};

/**
 * Collects garbage and waits until V8 has given the memory back. V8 frees the backing stores of
 * dead ArrayBuffers on a background thread after a full GC (concurrent array-buffer sweeping), so
 * RSS read right after gc() may still count tens of MiB that are already garbage; the next full
 * GC waits for that sweep to finish.
 */
async function settledHeap() {
  if (!globalThis.gc) return;
  globalThis.gc();
  await new Promise((resolve) => setImmediate(resolve));
  globalThis.gc();
}

process.on('message', async (message) => {
  if (message === 'stats') {
    await settledHeap();
    const { rss, arrayBuffers } = process.memoryUsage();
    process.send({ rss, arrayBuffers, stats: transport.stats?.() ?? null });
  } else if (message && typeof message.dial === 'string') {
    try {
      await transport.appendEntries({ id: 'parent', address: message.dial }, heartbeat);
      process.send({ ok: true });
    } catch (error) {
      process.send({ error: error.name, message: error.message });
    }
  } else if (message === 'exit') {
    await transport.close();
    process.exit(0);
  }
});
process.send({ address: transport.localAddr() });
