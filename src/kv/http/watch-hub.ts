/**
 * The watch streams of one server (`GET /watch`, Server-Sent Events). A watcher is a position in
 * the replicated watch history (state/history.ts), not a queue: it is sent the history after its
 * position whenever its socket takes data, so its memory is its socket's buffer however far behind
 * it is, and events are shared by every watcher. A watcher whose socket stopped taking data while
 * more than `bufferBytes` of new events piled up for it, or whose position fell out of the history,
 * is sent `event: overflow` with the last revision it was fully sent, and closed.
 */
import type { ServerResponse } from 'node:http';
import type { Clock, Logger, Timer } from '../../index.js';
import type { KvFsm } from '../fsm.js';
import { encodeBase64 } from '../json-fields.js';
import type { WatchEvent } from '../state/history.js';
import { HttpError } from './io.js';

export interface WatchHubOptions {
  fsm: KvFsm;
  clock: Clock;
  logger: Logger;
  /** Open streams at most; more answer 503. */
  maxWatches: number;
  /** Unsent bytes of new events a blocked watcher may have before it is overflowed. */
  bufferBytes: number;
  /** An idle stream gets a `: keepalive` comment this often, in ms. */
  keepaliveMs: number;
}

interface Watcher {
  readonly res: ServerResponse;
  readonly prefix: string;
  /** The last revision whose events were all handed to the socket. */
  cursor: number;
  /** Events after this revision arrived while watching; only they count towards `pending`. */
  readonly liveFrom: number;
  /** Bytes of such events under the prefix not yet handed to the socket. */
  pending: number;
  /** The socket's buffer is full: wait for 'drain'. */
  blocked: boolean;
  wroteSinceKeepalive: boolean;
}

/** An event's `data:` line, built once however many watchers send it. */
interface SseLine {
  text: string;
  bytes: number;
}

/** Bytes gathered into one socket write. */
const WRITE_CHUNK = 64 * 1024;
/** How long an ended stream may take to flush before its socket is destroyed. */
const CLOSE_GRACE_MS = 5000;

export class WatchHub {
  private readonly watchers = new Set<Watcher>();
  private readonly lines = new WeakMap<WatchEvent, SseLine>();
  private flushQueued = false;
  private keepaliveTimer: Timer | null = null;
  private readonly unobserve: () => void;
  /** Watchers closed for falling behind, since start. */
  overflows = 0;

  constructor(private readonly options: WatchHubOptions) {
    this.unobserve = options.fsm.observe({
      applied: (_revision, journal) => this.onChanges(journal.events),
      restored: () => this.onRestored(),
    });
  }

  get count(): number {
    return this.watchers.size;
  }

  /** Bytes waiting in the watchers' sockets (what watching costs this server in memory). */
  bufferedBytes(): number {
    let total = 0;
    for (const watcher of this.watchers) total += watcher.res.writableLength;
    return total;
  }

  /**
   * Starts a stream of the changes under `prefix` after revision `since` (default: the current
   * store revision). 410 when `since` is older than the history, 503 past `maxWatches`.
   */
  open(res: ServerResponse, prefix: string, since: number | undefined): void {
    const { fsm, maxWatches } = this.options;
    if (this.watchers.size >= maxWatches)
      throw new HttpError(503, `too many watches (at most ${maxWatches})`);
    const start = since ?? fsm.revision;
    const compactRevision = fsm.history.compactRevision;
    if (start < compactRevision) {
      throw new HttpError(
        410,
        `revision ${start} is older than the watch history (compacted up to ${compactRevision}): read the range again and watch from its revision`,
        {},
        { compactRevision },
      );
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      'X-Accel-Buffering': 'no',
    });
    const watcher: Watcher = {
      res,
      prefix,
      cursor: start,
      liveFrom: fsm.revision,
      pending: 0,
      blocked: false,
      wroteSinceKeepalive: false,
    };
    this.watchers.add(watcher);
    res.once('close', () => this.watchers.delete(watcher));
    res.on('drain', () => {
      watcher.blocked = false;
      this.flush(watcher);
    });
    // An id without data dispatches nothing but sets EventSource's reconnect position.
    res.write(`id: ${start}\n\n`);
    this.flush(watcher);
    this.armKeepalive();
  }

  /** Ends every stream and stops. */
  close(): void {
    this.unobserve();
    this.keepaliveTimer?.cancel();
    this.keepaliveTimer = null;
    for (const watcher of [...this.watchers]) this.end(watcher);
  }

  private onChanges(events: readonly WatchEvent[]): void {
    if (events.length === 0 || this.watchers.size === 0) return;
    for (const watcher of this.watchers) {
      for (const event of events)
        if (event.key.startsWith(watcher.prefix)) watcher.pending += this.line(event).bytes;
      if (watcher.blocked && watcher.pending + watcher.res.writableLength > this.options.bufferBytes)
        this.overflow(watcher);
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      // One flush after the batch of entries the runtime applies together: one write per watcher.
      setImmediate(() => {
        this.flushQueued = false;
        for (const watcher of this.watchers) this.flush(watcher);
      });
    }
  }

  private onRestored(): void {
    for (const watcher of this.watchers) watcher.pending = 0;
    for (const watcher of [...this.watchers]) this.flush(watcher);
  }

  /** Hands the socket the history after the watcher's position until the socket is full. */
  private flush(watcher: Watcher): void {
    if (watcher.blocked || !this.watchers.has(watcher)) return;
    const history = this.options.fsm.history;
    if (watcher.cursor < history.compactRevision) return this.overflow(watcher);
    const { prefix, liveFrom } = watcher;
    const length = history.length;
    let chunk = '';
    let live = 0;
    let revision = watcher.cursor;
    for (let i = history.indexAfter(watcher.cursor); i < length;) {
      revision = history.at(i).revision;
      let frame = '';
      for (; i < length && history.at(i).revision === revision; i++) {
        const event = history.at(i);
        if (!event.key.startsWith(prefix)) continue;
        const line = this.line(event);
        frame += line.text;
        if (revision > liveFrom) live += line.bytes;
      }
      if (frame !== '') chunk += `id: ${revision}\n${frame}\n`;
      if (chunk.length >= WRITE_CHUNK) {
        if (!this.send(watcher, chunk, revision, live)) return;
        chunk = '';
        live = 0;
      }
    }
    if (chunk !== '') this.send(watcher, chunk, revision, live);
    else watcher.cursor = revision;
  }

  /** Writes whole revisions up to `revision`; false when the socket asks to wait. */
  private send(watcher: Watcher, chunk: string, revision: number, live: number): boolean {
    const ok = watcher.res.write(chunk);
    watcher.cursor = revision;
    watcher.pending = Math.max(0, watcher.pending - live);
    watcher.wroteSinceKeepalive = true;
    if (!ok) watcher.blocked = true;
    return ok;
  }

  private overflow(watcher: Watcher): void {
    this.overflows++;
    this.options.logger.info(
      { prefix: watcher.prefix, since: watcher.cursor, pending: watcher.pending },
      'kv: closing a watch that fell behind',
    );
    watcher.res.write(`event: overflow\ndata: ${JSON.stringify({ since: watcher.cursor })}\n\n`);
    this.end(watcher);
  }

  private end(watcher: Watcher): void {
    this.watchers.delete(watcher);
    const { res } = watcher;
    res.end();
    // A client that stopped reading would hold the socket (and its buffer) forever.
    const timer = this.options.clock.setTimer(CLOSE_GRACE_MS, () => res.destroy());
    res.once('close', () => timer.cancel());
  }

  private line(event: WatchEvent): SseLine {
    let line = this.lines.get(event);
    if (line === undefined) {
      const value = event.value === null ? null : encodeBase64(event.value);
      const json = JSON.stringify({ revision: event.revision, op: event.op, key: event.key, value });
      const text = `data: ${json}\n`;
      line = { text, bytes: Buffer.byteLength(text) };
      this.lines.set(event, line);
    }
    return line;
  }

  private armKeepalive(): void {
    if (this.keepaliveTimer !== null) return;
    this.keepaliveTimer = this.options.clock.setTimer(this.options.keepaliveMs, () => {
      this.keepaliveTimer = null;
      for (const watcher of this.watchers) {
        if (!watcher.wroteSinceKeepalive && !watcher.blocked) watcher.res.write(': keepalive\n\n');
        watcher.wroteSinceKeepalive = false;
      }
      if (this.watchers.size > 0) this.armKeepalive();
    });
  }
}
