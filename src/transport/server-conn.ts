/**
 * The server end of one accepted connection (hashicorp's handleConn). Requests are parsed with the
 * incremental decoder and handled strictly one at a time: the next frame is not even parsed before
 * the previous response is written, so responses leave in request order (what pipelining relies
 * on). The socket is paused while a request is being handled and while the socket's write buffer
 * is full, which bounds what one connection can make us hold.
 *
 * An unknown type byte, a malformed or oversized frame closes the connection without a reply,
 * like Go, and logs why. Over TCP, a peer that half-closes after its requests still gets the
 * replies (the listener is made with allowHalfOpen).
 */
import { Readable } from 'node:stream';
import { ErrTransportShutdown } from '../core/errors.js';
import type { InstallSnapshotRequest, Peer, RaftRequest, RaftResponse } from '../core/types.js';
import { decodeRequest, encodeResponse, type IncomingRequest } from '../wire/codec.js';
import { Decoder, type DecodeLimits } from '../wire/decoder.js';
import { Encoder } from '../wire/encoder.js';
import { checkProtocolVersion } from '../wire/frames.js';
import { ReceiveBuffer } from './recv-buffer.js';
import { ErrPeerClosed, type StreamSocket } from './stream-layer.js';
import type { RpcHandler } from './types.js';

/** The logging the transport does: pino's signature, so a pino logger fits. */
/** The part of pino's interface NetworkTransport uses. */
export interface TransportLogger {
  /** Trouble with a peer or connection that the transport survived. */
  warn(obj: object, msg?: string): void;
  /** Routine connection events. */
  debug(obj: object, msg?: string): void;
}

export interface ServerConnHost {
  /** This server, for the header of responses. */
  local(): Peer;
  handler(): RpcHandler | null;
  readonly logger: TransportLogger;
  readonly limits: Partial<DecodeLimits>;
  /** Largest frame buffered while waiting for its end. */
  readonly maxFrameBytes: number;
  onClosed(conn: ServerConn): void;
}

/** Snapshot chunks buffered for a slow consumer before the socket is paused. */
const SNAPSHOT_HIGH_WATER = 256 * 1024;

interface Reply {
  kind: RaftRequest['kind'];
  response: RaftResponse | null;
  error: Error | undefined;
}

export class ServerConn {
  readonly remote: string;
  private readonly recv = new ReceiveBuffer();
  private readonly decoder: Decoder;
  private readonly encoder = new Encoder(512);
  private busy = false;
  private pumping = false;
  private writeBlocked = false;
  private closed = false;
  /** The peer shut down its side: finish what was received, then close ours. */
  private peerDone = false;
  private intake: SnapshotIntake | null = null;
  private reply: Reply | null = null;

  constructor(
    private readonly socket: StreamSocket,
    private readonly host: ServerConnHost,
  ) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.decoder = new Decoder(host.limits, true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      this.writeBlocked = false;
      this.pump();
    });
    socket.on('error', (error: Error) => {
      host.logger.debug({ remote: this.remote, err: error.message }, 'connection error');
      this.close();
    });
    socket.on('end', () => {
      this.peerDone = true;
      if (this.intake && this.intake.remaining > 0) this.close();
      else this.pump();
    });
    socket.on('close', () => this.close());
  }

  /** Closes the connection; a snapshot being received fails. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.intake?.abort(new ErrPeerClosed(`connection from ${this.remote} closed during a snapshot`));
    this.host.onClosed(this);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    const rest = this.intake && this.intake.remaining > 0 ? this.intake.feed(chunk) : chunk;
    this.recv.append(rest);
    this.pump();
  }

  private refuse(reason: string): void {
    this.host.logger.warn({ remote: this.remote, reason }, 'closing connection: bad request');
    this.close();
  }

  /** Bytes the frame being received needs at least (0: unknown, try to decode). */
  private frameNeeds = 0;

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.busy && !this.closed && !this.writeBlocked && this.recv.length > 0) {
        // The last scan said the frame needs at least this many bytes: do not rescan before.
        if (this.recv.length < this.frameNeeds) break;
        let incoming: IncomingRequest | null;
        try {
          incoming = decodeRequest(this.decoder, this.recv.view(), this.recv.offset);
        } catch (error) {
          this.refuse((error as Error).message);
          return;
        }
        if (incoming === null) {
          if (this.recv.length > this.host.maxFrameBytes)
            this.refuse(`frame larger than ${this.host.maxFrameBytes} bytes`);
          this.frameNeeds = Math.max(this.recv.length + 1, this.decoder.needAtLeast - this.recv.offset);
          break;
        }
        this.frameNeeds = 0;
        this.recv.consume(incoming.bytesUsed);
        this.dispatch(incoming);
      }
    } finally {
      this.pumping = false;
      this.updateFlow();
    }
    if (this.peerDone && !this.busy && !this.closed) {
      // Anything left is a frame the peer never finished; end() still flushes our replies.
      if (this.recv.length > 0) this.host.logger.debug({ remote: this.remote }, 'peer hung up mid-frame');
      this.socket.end();
    }
  }

  private dispatch(incoming: IncomingRequest): void {
    this.busy = true;
    const request = incoming.request;
    if (request.kind === 'installSnapshot') this.startIntake(request);
    let answered = false;
    const respond = (response: RaftResponse | null, error?: Error): void => {
      if (answered) return;
      answered = true;
      this.reply = { kind: request.kind, response, error };
      this.intake?.release();
      this.finish();
    };
    const refused = checkProtocolVersion(incoming.protocolVersion);
    if (refused) return respond(null, refused);
    const handler = this.host.handler();
    if (!handler) return respond(null, new ErrTransportShutdown('no rpc handler registered'));
    try {
      handler({ request, data: this.intake?.stream, respond });
    } catch (error) {
      respond(null, error as Error);
    }
  }

  private startIntake(request: InstallSnapshotRequest): void {
    const intake = new SnapshotIntake(
      request.size,
      () => this.updateFlow(),
      () => this.finish(),
    );
    this.intake = intake;
    while (intake.remaining > 0 && this.recv.length > 0)
      intake.feed(this.recv.take(Math.min(intake.remaining, this.recv.length)));
  }

  /** Writes the reply once the handler answered and every snapshot byte has been read. */
  private finish(): void {
    const reply = this.reply;
    if (!reply || (this.intake && this.intake.remaining > 0) || this.closed) return;
    this.reply = null;
    this.intake = null;
    const { kind, response, error } = reply;
    const enc = this.encoder;
    enc.reset();
    try {
      const text = error ? error.message : response ? '' : 'no response';
      encodeResponse(enc, kind, error ? null : response, text, this.host.local());
    } catch (encodeError) {
      this.host.logger.warn(
        { remote: this.remote, err: (encodeError as Error).message },
        'closing connection: cannot encode response',
      );
      this.close();
      return;
    }
    if (!this.socket.write(enc.finish())) this.writeBlocked = true;
    this.busy = false;
    this.pump();
  }

  private updateFlow(): void {
    if (this.closed) return;
    const intake = this.intake;
    const wantBytes = !this.writeBlocked && (intake && intake.remaining > 0 ? intake.wantsData : !this.busy);
    if (wantBytes) this.socket.resume();
    else this.socket.pause();
  }
}

/**
 * Exactly `size` snapshot bytes handed to the handler as a Readable, with backpressure: when the
 * consumer falls behind, wantsData turns false and the connection pauses. Bytes the handler does
 * not read (it answered first, or destroyed the stream) are drained, so the next frame lines up.
 */
class SnapshotIntake {
  readonly stream: Readable;
  remaining: number;
  wantsData = true;
  private discarding = false;

  constructor(
    size: number,
    private readonly onFlow: () => void,
    private readonly onComplete: () => void,
  ) {
    this.remaining = size;
    this.stream = new Readable({
      highWaterMark: SNAPSHOT_HIGH_WATER,
      read: () => {
        this.wantsData = true;
        onFlow();
      },
    });
    this.stream.on('close', () => {
      if (this.remaining > 0) this.release();
    });
    // abort() must not crash the process when nobody reads the stream any more; a consumer
    // still gets the error through its own listener or iterator.
    this.stream.on('error', () => {});
    if (size === 0) this.stream.push(null);
  }

  /** Takes the snapshot's share of chunk and returns the bytes after it. */
  feed(chunk: Uint8Array): Uint8Array {
    const n = Math.min(this.remaining, chunk.length);
    if (n === 0) return chunk;
    this.remaining -= n;
    if (!this.discarding && !this.stream.destroyed) {
      if (!this.stream.push(n === chunk.length ? chunk : chunk.subarray(0, n))) this.wantsData = false;
    }
    if (this.remaining === 0) {
      if (!this.stream.destroyed) this.stream.push(null);
      this.onComplete();
    }
    return chunk.subarray(n);
  }

  /** Drains whatever the consumer leaves unread. */
  release(): void {
    if (this.discarding) return;
    this.discarding = true;
    this.wantsData = true;
    if (!this.stream.destroyed) this.stream.resume();
    this.onFlow();
  }

  abort(error: Error): void {
    if (this.remaining > 0) this.stream.destroy(this.discarding ? undefined : error);
  }
}
