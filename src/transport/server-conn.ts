/**
 * The server end of one accepted connection (hashicorp's handleConn). Requests are parsed with the
 * incremental decoder and handled strictly one at a time: the next frame is not even parsed before
 * the previous response is written, so responses leave in request order (what pipelining relies
 * on). The socket is paused while a request is being handled and while the socket's write buffer
 * is full, which bounds what one connection can make us hold.
 *
 * What the connection buffers for an unfinished request is charged to the transport's inbound
 * budget (limits.ts); a request that would not fit is refused before it is buffered. An unknown
 * type byte, a malformed, out-of-range or oversized frame, or a sender its certificate does not
 * name closes the connection without a reply, like Go, and the host logs why. `expiry` tells the
 * host's sweeper when a connection stopped making progress. Over TCP, a peer that half-closes
 * after its requests still gets the replies (the listener is made with allowHalfOpen).
 */
import type { Clock } from '../core/clock.js';
import { ErrTooLarge, ErrTransportShutdown } from '../core/errors.js';
import type { InstallSnapshotRequest, Peer, RaftRequest, RaftResponse } from '../core/types.js';
import { decodeRequest, encodeResponse, type IncomingRequest } from '../wire/codec.js';
import { Decoder, type DecodeLimits } from '../wire/decoder.js';
import { Encoder } from '../wire/encoder.js';
import { checkProtocolVersion } from '../wire/frames.js';
import { ErrBufferBudget, type BufferAccount, type BufferBudget } from './budget.js';
import { ReceiveBuffer } from './recv-buffer.js';
import { SnapshotIntake } from './snapshot-intake.js';
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
  readonly clock: Clock;
  readonly limits: Partial<DecodeLimits>;
  /** Largest frame buffered while waiting for its end. */
  readonly maxFrameBytes: number;
  readonly budget: BufferBudget;
  /** An Error if this connection's peer may not send `request` (identity checks); null if it may. */
  vet(conn: ServerConn, request: RaftRequest): Error | null;
  /** The connection is being closed because of what the peer sent: log (once per peer) and count. */
  refused(conn: ServerConn, error: Error): void;
  onClosed(conn: ServerConn): void;
}

interface Reply {
  kind: RaftRequest['kind'];
  response: RaftResponse | null;
  error: Error | undefined;
}

export class ServerConn {
  readonly remote: string;
  private readonly recv = new ReceiveBuffer();
  private readonly account: BufferAccount = { retained: 0, charged: 0 };
  private readonly decoder: Decoder;
  private readonly encoder = new Encoder(512);
  private busy = false;
  private pumping = false;
  private writeBlocked = false;
  private closed = false;
  private paused = false;
  /** The peer shut down its side: finish what was received, then close ours. */
  private peerDone = false;
  private intake: SnapshotIntake | null = null;
  private reply: Reply | null = null;
  /** Bytes the frame being received needs at least (0: unknown, try to decode). */
  private frameNeeds = 0;
  // Progress, on the host's clock: what `expiry` judges by.
  private lastActivity: number;
  private frameSince = -1;
  private blockedSince = -1;
  private flowingSince: number;

  constructor(
    readonly socket: StreamSocket,
    private readonly host: ServerConnHost,
  ) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.decoder = new Decoder(host.limits, true);
    this.lastActivity = this.flowingSince = host.clock.now();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      this.writeBlocked = false;
      this.blockedSince = -1;
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

  /** Bytes held for an unfinished request (charged to the budget). */
  get bufferedBytes(): number {
    return this.account.retained;
  }

  /** Closes the connection and gives its buffer back; a snapshot being received fails. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.recv.clear();
    // The socket (and so this object) stays reachable until libuv closes its handle.
    this.decoder.release();
    this.host.budget.update(this.account, 0);
    this.intake?.abort(new ErrPeerClosed(`connection from ${this.remote} closed during a snapshot`));
    this.host.onClosed(this);
  }

  /**
   * Why the connection should be closed at `now` for making no progress, or null. A request must
   * arrive in full within readTimeout of the moment we started waiting for it, snapshot data and
   * the peer's reading of our replies must not stall for that long, and a connection with nothing
   * in progress may stay idleTimeout (0: forever). Time our own handler takes never counts.
   */
  expiry(now: number, readTimeout: number, idleTimeout: number): string | null {
    if (this.closed) return null;
    if (this.blockedSince >= 0)
      return now - this.blockedSince >= readTimeout ? `replies unread for ${readTimeout} ms` : null;
    const intake = this.intake;
    if (intake && intake.remaining > 0) {
      if (!intake.wantsData) return null;
      const since = Math.max(this.lastActivity, this.flowingSince);
      return now - since >= readTimeout ? `snapshot data stalled for ${readTimeout} ms` : null;
    }
    if (this.busy) return null;
    if (this.frameSince >= 0)
      return now - this.frameSince >= readTimeout ? `request incomplete after ${readTimeout} ms` : null;
    if (idleTimeout > 0 && this.recv.length === 0 && now - this.lastActivity >= idleTimeout) return 'idle';
    return null;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastActivity = this.host.clock.now();
    const rest = this.intake && this.intake.remaining > 0 ? this.intake.feed(chunk) : chunk;
    if (!this.recv.append(rest, this.host.budget.capacityFor(this.account), this.frameNeeds)) {
      this.refuse(
        new ErrBufferBudget(
          `request does not fit the inbound buffer budget (${this.recv.length} bytes held)`,
        ),
      );
      return;
    }
    this.pump();
  }

  private refuse(error: Error): void {
    this.host.refused(this, error);
    this.close();
  }

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
          this.refuse(error as Error);
          return;
        }
        if (incoming === null) {
          this.waitForRestOfFrame();
          break;
        }
        this.frameNeeds = 0;
        this.frameSince = -1;
        this.recv.consume(incoming.bytesUsed);
        this.dispatch(incoming);
      }
    } finally {
      this.pumping = false;
      // An idle connection must not keep its last frame's storage alive through the decoder.
      if (this.recv.length === 0) this.decoder.release();
      if (!this.closed) this.host.budget.update(this.account, this.recv.retained);
      this.updateFlow();
    }
    if (this.peerDone && !this.busy && !this.closed) {
      // Anything left is a frame the peer never finished; end() still flushes our replies.
      if (this.recv.length > 0) this.host.logger.debug({ remote: this.remote }, 'peer hung up mid-frame');
      this.socket.end();
    }
  }

  /** The frame is incomplete: refuse it now if it can never fit, else note when we began waiting. */
  private waitForRestOfFrame(): void {
    const length = this.recv.length;
    if (length > this.host.maxFrameBytes)
      return this.refuse(new ErrTooLarge(`frame larger than ${this.host.maxFrameBytes} bytes`));
    this.frameNeeds = Math.max(length + 1, this.decoder.needAtLeast - this.recv.offset);
    if (this.frameNeeds > this.host.budget.capacityFor(this.account))
      return this.refuse(
        new ErrBufferBudget(
          `request of at least ${this.frameNeeds} bytes does not fit the inbound buffer budget`,
        ),
      );
    if (this.frameSince < 0) this.frameSince = this.host.clock.now();
  }

  private dispatch(incoming: IncomingRequest): void {
    const request = incoming.request;
    const refused = this.host.vet(this, request);
    if (refused) return this.refuse(refused);
    this.busy = true;
    if (request.kind === 'installSnapshot') this.startIntake(request);
    let answered = false;
    const respond = (response: RaftResponse | null, error?: Error): void => {
      if (answered) return;
      answered = true;
      this.reply = { kind: request.kind, response, error };
      this.intake?.release();
      this.finish();
    };
    const unsupported = checkProtocolVersion(incoming.protocolVersion);
    if (unsupported) return respond(null, unsupported);
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
    this.lastActivity = this.host.clock.now();
    // A copy from Node's shared pool (the reply is ~100 bytes, held only until written): cheaper
    // than finish()'s own ArrayBuffer per reply, and a follower writes one reply per frame.
    if (!this.socket.write(Buffer.from(enc.view()))) {
      this.writeBlocked = true;
      this.blockedSince = this.lastActivity;
    }
    this.busy = false;
    this.pump();
  }

  private updateFlow(): void {
    if (this.closed) return;
    const intake = this.intake;
    const wantBytes = !this.writeBlocked && (intake && intake.remaining > 0 ? intake.wantsData : !this.busy);
    if (wantBytes === !this.paused) return;
    this.paused = !wantBytes;
    if (wantBytes) {
      // Only a stalled snapshot is judged by when reading resumed (see expiry).
      if (intake) this.flowingSince = this.host.clock.now();
      this.socket.resume();
    } else {
      this.socket.pause();
    }
  }
}
