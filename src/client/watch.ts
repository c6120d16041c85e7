/**
 * `client.watch(prefix, {since})`: the changes under a prefix as an async iterator, over the
 * service's Server-Sent Events (`GET /watch`). The iterator remembers the revision of the last
 * event it handed out and, when a stream ends, breaks, goes silent or overflows, reconnects —
 * to the same member, else the next endpoint — with `Last-Event-ID` set to it, so the caller sees
 * every revision once, in order, across reconnects and member failures. An event at or below
 * that revision (a member replaying what another already sent) is dropped.
 */
import type { IncomingMessage } from 'node:http';
import type { ClientHost } from './host.js';
import type { ClientClock } from './clock.js';
import { base64, integer, jsonObject, text } from './decode.js';
import { CompactedError, KvHttpError, ProtocolError } from './errors.js';
import { ExchangeFailure } from './http.js';
import { errorMessage } from './requester.js';

/** Where a watch starts and what stops it. */
export interface WatchOptions {
  /** Changes with a revision above this (default: from now on). Use a range's revision to continue it. */
  since?: number;
  /** Ends the iteration: the pending `next()` rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** One change. Changes of one transaction share a revision and arrive together. */
export interface WatchEvent {
  /** The revision of the change. */
  revision: number;
  /** A put (set) or a delete. */
  op: 'put' | 'delete';
  /** The key changed. */
  key: string;
  /** Null for a delete. */
  value: Buffer | null;
}

/** One SSE block: its id, event type and data lines. */
interface SseBlock {
  id: string | undefined;
  event: string | undefined;
  data: string[];
}

export async function* watch(
  client: ClientHost,
  prefix: string,
  options: WatchOptions,
): AsyncGenerator<WatchEvent> {
  const { requester, transport, settings } = client;
  const endpoints = requester.options.endpoints;
  const signal = options.signal;
  let since = options.since;
  if (since !== undefined && (!Number.isSafeInteger(since) || since < 0))
    throw new RangeError(`since must be a non-negative integer, got ${since}`);
  let member = endpoints.indexOf(requester.target(true));
  let attempt = 0;
  let compacted = 0;
  const fail = async () => {
    member = (member + 1) % endpoints.length;
    await requester.backoff(attempt++, signal ?? new AbortController().signal);
  };
  for (;;) {
    signal?.throwIfAborted();
    const url = new URL(`/watch?prefix=${encodeURIComponent(prefix)}`, endpoints[member]);
    const headers: Record<string, string> = { Accept: 'text/event-stream' };
    if (since !== undefined) headers['Last-Event-ID'] = String(since);
    let res: IncomingMessage;
    try {
      res = await transport.open(url, 'GET', { headers, signal }, false);
    } catch (error) {
      signal?.throwIfAborted();
      if (!(error instanceof ExchangeFailure)) throw error;
      await fail();
      continue;
    }
    if (res.statusCode !== 200) {
      const answer = await transport.readAnswer(res, signal);
      signal?.throwIfAborted();
      if (answer.status === 410) {
        // One member may have restored a snapshot newer than the others' history: ask them too.
        if (++compacted >= endpoints.length) {
          const body = jsonObject(answer.body, 'watch');
          throw new CompactedError(
            integer(body, 'compactRevision', 'watch 410'),
            `watch: ${errorMessage(answer)}`,
          );
        }
      } else if (answer.status < 500 && answer.status !== 408 && answer.status !== 429) {
        throw new KvHttpError(answer.status, {}, `watch: ${answer.status} ${errorMessage(answer)}`);
      }
      await fail();
      continue;
    }
    compacted = 0;
    try {
      for await (const block of sseBlocks(
        res,
        settings.maxEventBytes,
        settings.clock,
        settings.watchIdleMs,
      )) {
        if (block.event === 'overflow') {
          since = integer(
            jsonObject(Buffer.from(block.data.join('\n')), 'watch overflow'),
            'since',
            'watch overflow',
          );
          break;
        }
        const id = block.id === undefined ? NaN : Number(block.id);
        if (!Number.isSafeInteger(id) || id < 0) {
          if (block.data.length === 0) continue;
          throw new ProtocolError(`watch: an event without a valid id (${String(block.id)})`);
        }
        if (block.data.length === 0) {
          since ??= id;
          continue;
        }
        if (since !== undefined && id <= since) continue;
        const changes = block.data.map((line) => change(line, id));
        since = id;
        attempt = 0;
        for (const event of changes) yield event;
      }
    } catch (error) {
      signal?.throwIfAborted();
      if (error instanceof ProtocolError) throw error;
      // The stream broke: reconnect from `since`.
    } finally {
      res.destroy();
    }
    signal?.throwIfAborted();
    await fail();
  }
}

function change(line: string, id: number): WatchEvent {
  const body = jsonObject(Buffer.from(line), 'watch event');
  const revision = integer(body, 'revision', 'watch event');
  const op = text(body, 'op', 'watch event');
  if (revision !== id)
    throw new ProtocolError(`watch: a change of revision ${revision} in the event of ${id}`);
  if (op !== 'put' && op !== 'delete') throw new ProtocolError(`watch: unknown op ${JSON.stringify(op)}`);
  const value = op === 'put' ? base64(body.value, 'watch event') : null;
  return { revision, op, key: text(body, 'key', 'watch event'), value };
}

/**
 * The blocks of an SSE stream as they complete. A block over `maxBytes` is a ProtocolError; a
 * stream silent for `idleMs` is destroyed (the iteration then fails and the watch reconnects).
 */
async function* sseBlocks(
  res: IncomingMessage,
  maxBytes: number,
  clock: ClientClock,
  idleMs: number,
): AsyncGenerator<SseBlock> {
  res.setEncoding('utf8');
  let timer = clock.setTimer(idleMs, () => res.destroy(new Error('watch stream idle')));
  let buffer = '';
  let block: SseBlock = { id: undefined, event: undefined, data: [] };
  let blockBytes = 0;
  try {
    for await (const chunk of res as AsyncIterable<string>) {
      timer.cancel();
      timer = clock.setTimer(idleMs, () => res.destroy(new Error('watch stream idle')));
      buffer += chunk;
      let start = 0;
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n', start)) {
        const line = buffer.slice(start, nl > start && buffer[nl - 1] === '\r' ? nl - 1 : nl);
        start = nl + 1;
        if (line === '') {
          if (block.id !== undefined || block.event !== undefined || block.data.length > 0) yield block;
          block = { id: undefined, event: undefined, data: [] };
          blockBytes = 0;
          continue;
        }
        blockBytes += line.length;
        if (blockBytes > maxBytes) throw new ProtocolError(`watch: an event over ${maxBytes} bytes`);
        const colon = line.indexOf(':');
        if (colon === 0) continue;
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(line[colon + 1] === ' ' ? colon + 2 : colon + 1);
        if (field === 'id') block.id = value;
        else if (field === 'event') block.event = value;
        else if (field === 'data') block.data.push(value);
      }
      buffer = buffer.slice(start);
      if (buffer.length > maxBytes) throw new ProtocolError(`watch: a line over ${maxBytes} bytes`);
    }
  } finally {
    timer.cancel();
  }
}
