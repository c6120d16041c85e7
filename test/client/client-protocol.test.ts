/**
 * raftkit/client against scripted members: the retry rules (503 and refused connections retried,
 * 504 and lost writes not), redirects (followed, also to https; never down to http), the token,
 * hostile answers refused with typed errors, and the watch's resumption (Last-Event-ID after a
 * break, an overflow, duplicates dropped, 410 as CompactedError).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  CompactedError,
  KvClient,
  KvHttpError,
  OutcomeUnknownError,
  PreconditionFailedError,
  ProtocolError,
  UnavailableError,
  type WatchEvent,
} from '../../src/client/index.js';
import { freePorts } from '../kit/helpers.js';
import { json, ScriptedServer, type Handler } from './scripted-server.js';

const servers: ScriptedServer[] = [];
const clients: KvClient[] = [];
async function serve(handler: Handler): Promise<ScriptedServer> {
  const server = await new ScriptedServer(handler).start();
  servers.push(server);
  return server;
}
function client(
  endpoints: string[],
  options: Partial<ConstructorParameters<typeof KvClient>[0]> = {},
): KvClient {
  const made = new KvClient({ endpoints, timeout: 5000, backoffInitialMs: 1, backoffMaxMs: 5, ...options });
  clients.push(made);
  return made;
}
afterEach(async () => {
  for (const made of clients.splice(0)) made.close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('retries', () => {
  it('retries 503 and a refused connection, then succeeds once', async () => {
    let calls = 0;
    const member = await serve((_req, res) =>
      ++calls < 3 ? json(res, 503, { error: 'no leader known' }) : json(res, 200, { index: 7, revision: 7 }),
    );
    const [closed] = await freePorts(1);
    expect(await client([`http://127.0.0.1:${closed}`, member.url]).put('k', 'v')).toBe(7);
    expect(calls).toBe(3);
  });

  it('a 504 on a write is OutcomeUnknownError and is not sent again; on a read it is retried', async () => {
    const member = await serve((req, res) =>
      req.method === 'PUT' || member.requests.length < 2
        ? json(res, 504, { error: 'outcome unknown: timed out' })
        : (res.writeHead(200, { ETag: '"3"' }), res.end('v')),
    );
    const kv = client([member.url]);
    await expect(kv.put('k', 'v')).rejects.toBeInstanceOf(OutcomeUnknownError);
    expect(member.requests.filter((req) => req.method === 'PUT')).toHaveLength(1);
    expect(await kv.get('k')).toMatchObject({ revision: 3 });
  });

  it('a connection lost after a write was sent is OutcomeUnknownError; the write is sent once', async () => {
    const member = await serve((_req, res) => res.socket!.destroy());
    await expect(client([member.url]).delete('k')).rejects.toBeInstanceOf(OutcomeUnknownError);
    expect(member.requests).toHaveLength(1);
  });

  it('gives up at the deadline with UnavailableError naming the last problem', async () => {
    const member = await serve((_req, res) => json(res, 503, { error: 'no leader known, retry later' }));
    await expect(client([member.url], { timeout: 300 }).get('k')).rejects.toThrow(
      /no member served the call within 300 ms \(last: .*no leader known/,
    );
    await expect(client([member.url], { timeout: 300 }).get('k')).rejects.toBeInstanceOf(UnavailableError);
  });

  it('412 is PreconditionFailedError with the current revision; other refusals are KvHttpError', async () => {
    const member = await serve((req, res) =>
      req.headers['if-match'] === '"4"'
        ? json(res, 412, { error: 'revision differs', revision: 9 })
        : json(res, 400, { error: 'bad key' }),
    );
    const kv = client([member.url]);
    const refused = await kv.put('k', 'v', { ifRevision: 4 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(PreconditionFailedError);
    expect((refused as PreconditionFailedError).revision).toBe(9);
    await expect(kv.put('k', 'v')).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('bad key'),
    });
  });
});

describe('redirects and credentials', () => {
  it('follows a 307 to the leader, remembers it, and sends the token', async () => {
    const leader = await serve((_req, res) => json(res, 200, { index: 5, revision: 5 }));
    const follower = await serve((req, res) => {
      res.writeHead(307, { Location: `${leader.url}${req.url}` });
      res.end();
    });
    const kv = client([follower.url], { token: 's3cret' });
    await kv.put('a', '1');
    await kv.put('b', '2');
    expect(follower.requests).toHaveLength(1);
    expect(leader.requests.map((req) => req.url)).toEqual(['/kv/a', '/kv/b']);
    expect(leader.requests[0].headers.authorization).toBe('Bearer s3cret');
  });

  it('refuses a redirect to a scheme other than http(s)', async () => {
    const member = await serve((_req, res) => {
      res.writeHead(307, { Location: 'ftp://example.com/kv/a' });
      res.end();
    });
    await expect(client([member.url]).put('a', '1')).rejects.toBeInstanceOf(ProtocolError);
  });

  it('checks its options: endpoints, numbers, a token with a line break', () => {
    expect(() => new KvClient({ endpoints: [] })).toThrow(RangeError);
    expect(() => new KvClient({ endpoints: ['ftp://x'] })).toThrow(RangeError);
    expect(() => new KvClient({ endpoints: ['http://x'], timeout: -1 })).toThrow(RangeError);
    expect(() => new KvClient({ endpoints: ['http://x'], token: 'a\r\nX-Evil: 1' })).toThrow(RangeError);
  });
});

describe('hostile answers', () => {
  it('a malformed JSON answer, a non-integer revision, an oversized answer: ProtocolError', async () => {
    let mode = 0;
    const member = await serve((_req, res) => {
      if (mode === 0) return json(res, 200, 'not an object');
      if (mode === 1) return json(res, 200, { revision: 1e300, items: [], more: false });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(Buffer.alloc(4096, 0x20));
    });
    const kv = client([member.url], { maxResponseBytes: 1024 });
    await expect(kv.range('p')).rejects.toBeInstanceOf(ProtocolError);
    mode = 1;
    await expect(kv.range('p')).rejects.toThrow(/revision/);
    mode = 2;
    await expect(kv.range('p')).rejects.toThrow(/over 1024 bytes/);
  });
});

/** A member whose /watch answers are scripted per connection. */
function watchServer(
  script: (connection: number, lastEventId: string | undefined) => string | [number, unknown],
) {
  let connection = 0;
  return serve((req, res) => {
    const answer = script(connection++, req.headers['last-event-id'] as string | undefined);
    if (Array.isArray(answer)) return json(res, answer[0], answer[1]);
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.end(answer);
  });
}
const event = (revision: number, key: string, value: string | null) =>
  `id: ${revision}\ndata: ${JSON.stringify({ revision, op: value === null ? 'delete' : 'put', key, value: value === null ? null : b64(value) })}\n\n`;

async function collect(iterator: AsyncIterableIterator<WatchEvent>, count: number): Promise<WatchEvent[]> {
  const events: WatchEvent[] = [];
  for await (const item of iterator) {
    events.push(item);
    if (events.length === count) break;
  }
  return events;
}

describe('watch', () => {
  it('resumes with Last-Event-ID after the stream ends or overflows, dropping what it already had', async () => {
    const seen: (string | undefined)[] = [];
    const member = await watchServer((connection, lastEventId) => {
      seen.push(lastEventId);
      if (connection === 0) return `id: 10\n\n${event(11, 'p/a', 'x')}${event(12, 'p/b', 'y')}`;
      if (connection === 1)
        return `${event(12, 'p/b', 'y')}${event(13, 'p/a', null)}event: overflow\ndata: {"since":13}\n\n`;
      return `: keepalive\n\n${event(14, 'p/c', 'z')}`;
    });
    const events = await collect(client([member.url]).watch('p/', { since: 10 }), 4);
    expect(events.map((e) => [e.revision, e.op, e.key, e.value?.toString() ?? null])).toEqual([
      [11, 'put', 'p/a', 'x'],
      [12, 'put', 'p/b', 'y'],
      [13, 'delete', 'p/a', null],
      [14, 'put', 'p/c', 'z'],
    ]);
    expect(seen).toEqual(['10', '12', '13']);
    expect(member.requests[0].url).toBe('/watch?prefix=p%2F');
  });

  it('moves to the next member when one fails, and throws CompactedError when every member answers 410', async () => {
    const down = await watchServer(() => [410, { error: 'compacted', compactRevision: 50 }]);
    const alsoDown = await watchServer(() => [410, { error: 'compacted', compactRevision: 60 }]);
    const error = await collect(client([down.url, alsoDown.url]).watch('', { since: 3 }), 1).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CompactedError);
    expect([50, 60]).toContain((error as CompactedError).compactRevision);
    const [closed] = await freePorts(1);
    const up = await watchServer(() => event(4, 'k', 'v'));
    expect(
      await collect(client([`http://127.0.0.1:${closed}`, up.url]).watch('', { since: 3 }), 1),
    ).toHaveLength(1);
  });

  it('a refusal such as 401 ends the watch with KvHttpError; an event with a foreign revision is a ProtocolError', async () => {
    const refusing = await watchServer(() => [401, { error: 'token required' }]);
    await expect(collect(client([refusing.url]).watch(''), 1)).rejects.toBeInstanceOf(KvHttpError);
    const lying = await watchServer(() => `id: 5\ndata: {"revision":4,"op":"put","key":"k","value":""}\n\n`);
    await expect(collect(client([lying.url]).watch(''), 1)).rejects.toBeInstanceOf(ProtocolError);
  });

  it('an event over maxEventBytes is refused instead of buffered', async () => {
    const member = await watchServer(() => `id: 5\ndata: ${'x'.repeat(5000)}`);
    await expect(collect(client([member.url], { maxEventBytes: 1024 }).watch(''), 1)).rejects.toBeInstanceOf(
      ProtocolError,
    );
  });
});
