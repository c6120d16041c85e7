/**
 * `GET /watch` (src/kv/http/watch-routes.ts, watch-hub.ts) on one server over the single-node double:
 * the SSE format, history and resumption, 410 after compaction, keepalives, the overflow of a slow
 * watcher with the server's buffered bytes bounded, the watch limit, and hostile parameters.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { httpAddressKey } from '../../../src/kv/commands.js';
import { SseStream } from '../../support/sse.js';
import { waitFor } from '../../support/wait.js';
import { ManualClock } from '../../transport/helpers.js';
import { expectJsonError, useKvApi } from './api-harness.js';

const api = useKvApi();
const streams: SseStream[] = [];
afterEach(() => {
  for (const stream of streams.splice(0)) stream.close();
});

async function watch(path: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const stream = await SseStream.open(api.base, path, headers);
  streams.push(stream);
  return stream;
}

const put = (key: string, value: string | Buffer) => api.req('PUT', `/kv/${encodeURIComponent(key)}`, value);
const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('GET /watch', () => {
  it('streams one event per revision, with id and one data line per change, only under the prefix', async () => {
    await put('config/a', 'old');
    const stream = await watch('/watch?prefix=config/');
    expect(stream.status).toBe(200);
    expect(stream.response.headers['content-type']).toBe('text/event-stream');
    await put('other', 'x');
    await put('config/a', 'hello');
    await api.req(
      'POST',
      '/txn',
      JSON.stringify({
        success: [
          { op: 'delete', key: 'config/a' },
          { op: 'put', key: 'config/b', value: b64('world') },
          { op: 'put', key: 'elsewhere', value: b64('!') },
        ],
      }),
    );
    await stream.waitForChanges(3);
    // It starts with its position (id 1: the store revision when it opened), then one block per revision.
    expect(stream.positions).toEqual(['1']);
    expect(stream.messages).toEqual([
      { id: '3', event: undefined, data: [{ revision: 3, op: 'put', key: 'config/a', value: b64('hello') }] },
      {
        id: '4',
        event: undefined,
        data: [
          { revision: 4, op: 'delete', key: 'config/a', value: null },
          { revision: 4, op: 'put', key: 'config/b', value: b64('world') },
        ],
      },
    ]);
  });

  it('replays the history after ?since, then goes on live; Last-Event-ID takes precedence', async () => {
    for (let i = 1; i <= 5; i++) await put(`k${i}`, String(i));
    const fromTwo = await watch('/watch?since=2');
    const resumed = await watch('/watch?since=0', { 'Last-Event-ID': '4' });
    await put('k6', '6');
    await fromTwo.waitForChanges(4);
    await resumed.waitForChanges(2);
    expect(fromTwo.changes().map((c) => c.revision)).toEqual([3, 4, 5, 6]);
    expect(resumed.changes().map((c) => c.revision)).toEqual([5, 6]);
    expect(resumed.positions).toEqual(['4']);
  });

  it('answers 410 with compactRevision for a position older than the history', async () => {
    await api.restart({}, { watchHistory: 100 });
    for (let i = 1; i <= 130; i++) await put(`k${i}`, 'v');
    const gone = await watch('/watch?since=5');
    expect(gone.status).toBe(410);
    expect(await gone.json()).toMatchObject({ compactRevision: 30 });
    const ok = await watch('/watch?since=30');
    await ok.waitForChanges(100);
    expect(ok.changes()[0].revision).toBe(31);
  });

  it('serves on a follower from its applied state (no redirect)', async () => {
    await put('a', 'written while leading');
    api.cluster.seed(httpAddressKey('n2'), 'http://127.0.0.1:8999');
    api.cluster.follow('n2');
    const stream = await watch('/watch?since=0');
    expect(stream.status).toBe(200);
    await stream.waitForChanges(1);
    expect(stream.changes()[0]).toEqual({
      revision: 1,
      op: 'put',
      key: 'a',
      value: b64('written while leading'),
    });
  });

  it('sends a keepalive comment to an idle stream every keepalive period', async () => {
    const clock = new ManualClock();
    await api.restart({ clock, watchKeepaliveMs: 15_000 });
    const stream = await watch('/watch');
    await waitFor(() => stream.positions.length === 1, 5000, 'the stream to open');
    clock.advance(15_000);
    await waitFor(() => stream.comments.length === 1, 5000, 'a keepalive');
    expect(stream.comments).toEqual(['keepalive']);
    // A stream that was sent an event since the last tick gets no comment.
    await put('a', '1');
    await stream.waitForChanges(1);
    clock.advance(15_000);
    clock.advance(15_000);
    await waitFor(() => stream.comments.length === 2, 5000, 'a second keepalive');
  });

  it('closes a watcher that stopped reading with overflow and its last sent revision; memory stays bounded; it resumes without gaps', async () => {
    const bufferBytes = 256 * 1024;
    await api.restart({ watchBufferBytes: bufferBytes });
    const value = Buffer.alloc(8 * 1024, 0x61);
    const stream = await watch('/watch?prefix=big/');
    await waitFor(() => stream.positions.length === 1, 5000, 'the stream to open');
    stream.pause();
    let peak = 0;
    let revision = 0;
    for (let i = 0; i < 400 && api.server.watches.count > 0; i++) {
      revision = ((await put(`big/${i}`, value)).json() as { revision: number }).revision;
      peak = Math.max(peak, api.server.watches.bufferedBytes());
    }
    expect(api.server.watches.count).toBe(0);
    expect(api.server.watches.overflows).toBe(1);
    // What the server held for it: its socket's buffer, about one write chunk, never the backlog.
    const frame = Buffer.byteLength(
      `id: 1\ndata: ${JSON.stringify({ revision: 1, op: 'put', key: 'big/1', value: value.toString('base64') })}\n\n`,
    );
    expect(peak).toBeLessThan(64 * 1024 + 2 * frame);
    stream.resume();
    await waitFor(() => stream.ended, 10_000, 'the overflowed stream to end');
    const overflow = stream.messages.at(-1)!;
    expect(overflow.event).toBe('overflow');
    const since = (overflow.data[0] as { since: number }).since;
    const received = stream.changes().map((c) => c.revision);
    expect(received.at(-1)).toBe(since);
    // Resuming from `since` gives the rest: together, every revision once, in order.
    const resumed = await watch(`/watch?prefix=big/&since=${since}`);
    await waitFor(() => (resumed.changes().at(-1)?.revision ?? 0) >= revision, 10_000, 'the rest');
    const all = [...received, ...resumed.changes().map((c) => c.revision)];
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    expect(all.at(-1)).toBe(revision);
  });

  it('answers 503 past the watch limit', async () => {
    await api.restart({ maxWatches: 2 });
    await watch('/watch');
    await watch('/watch');
    const third = await watch('/watch');
    expect(third.status).toBe(503);
    expect(await third.json()).toMatchObject({ error: expect.stringContaining('too many watches') });
  });

  const hostile: [string, string, Record<string, string>][] = [
    ['a negative since', '/watch?since=-1', {}],
    ['a non-numeric since', '/watch?since=abc', {}],
    ['an exponent since', '/watch?since=1e3', {}],
    ['a since past 2^53', '/watch?since=9007199254740993', {}],
    ['an empty since', '/watch?since=', {}],
    ['a non-numeric Last-Event-ID', '/watch', { 'Last-Event-ID': 'x' }],
    ['a negative Last-Event-ID', '/watch', { 'Last-Event-ID': '-5' }],
    ['a control character in the prefix', '/watch?prefix=a%01', {}],
    ['a prefix over 1024 bytes', `/watch?prefix=${'p'.repeat(1025)}`, {}],
    ['a malformed escape in the prefix', '/watch?prefix=%ZZ', {}],
    ['invalid UTF-8 in the prefix', '/watch?prefix=%C3', {}],
  ];
  for (const [name, path, headers] of hostile) {
    it(`refuses ${name} with 400`, async () => {
      const res = await api.req('GET', path, undefined, headers);
      expectJsonError(res, 400);
      expect(api.server.watches.count).toBe(0);
    });
  }
});
