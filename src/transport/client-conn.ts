/**
 * The client end of one connection: writes request frames and reads the replies in order.
 * A waiter's deadline starts when it becomes the reply being awaited (hashicorp sets the read
 * deadline for each reply when it starts waiting for it), so pipelined requests queued behind a
 * slow one are not charged for its time.
 */
import type { Clock, Timer } from '../core/clock.js';
import type { ResponseMap } from '../core/types.js';
import { decodeResponse, type IncomingResponse } from '../wire/codec.js';
import { Decoder, type DecodeLimits } from '../wire/decoder.js';
import { ReceiveBuffer } from './recv-buffer.js';
import { ErrPeerClosed, ErrRpcTimeout, type StreamSocket } from './stream-layer.js';

type Kind = keyof ResponseMap;

interface Waiter {
  kind: Kind;
  timeoutMs: number;
  timer: Timer | null;
  resolve(response: IncomingResponse<Kind>): void;
  reject(error: Error): void;
}

export class ClientConn {
  /** Set once the connection failed or was closed; later calls reject with it. */
  failure: Error | null = null;
  /** True once the connection has served an RPC (a pooled connection may be stale). */
  reused = false;
  private readonly recv = new ReceiveBuffer();
  private readonly decoder: Decoder;
  private readonly waiters: Waiter[] = [];
  private drainWaiters: { resolve(): void; reject(error: Error): void }[] = [];

  constructor(
    readonly address: string,
    /** The server ID it was dialled as (and, over TLS with identities, verified to be). */
    readonly serverId: string,
    private readonly socket: StreamSocket,
    private readonly clock: Clock,
    limits: Partial<DecodeLimits>,
    private readonly onClosed: (conn: ClientConn) => void,
  ) {
    this.decoder = new Decoder(limits, true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.settleDrains(null));
    socket.on('end', () => this.fail(new ErrPeerClosed(`${address} closed the connection`)));
    socket.on('close', () => this.fail(new ErrPeerClosed(`connection to ${address} closed`)));
    socket.on('error', (error: NodeJS.ErrnoException) =>
      this.fail(
        error.code === 'ECONNRESET' || error.code === 'EPIPE'
          ? new ErrPeerClosed(`${address} reset the connection`)
          : error,
      ),
    );
  }

  get pendingReplies(): number {
    return this.waiters.length;
  }

  /** True if any byte of a reply has arrived since the last complete one. */
  get partialReply(): boolean {
    return this.recv.length > 0;
  }

  /** Writes bytes; false means the socket's buffer is full (see drained). */
  write(bytes: Uint8Array): boolean {
    if (this.failure) return false;
    return this.socket.write(bytes);
  }

  /** Resolves when the socket can take more bytes; rejects if the connection fails first. */
  drained(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  /**
   * The next reply, as a request of `kind` expects it. timeoutMs (0 = none) counts from when this
   * reply becomes the one awaited; on expiry the connection is closed.
   */
  expect<K extends Kind>(kind: K, timeoutMs: number): Promise<IncomingResponse<K>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<IncomingResponse<K>>((resolve, reject) => {
      const waiter: Waiter = {
        kind,
        timeoutMs,
        timer: null,
        resolve: resolve as (response: IncomingResponse<Kind>) => void,
        reject,
      };
      this.waiters.push(waiter);
      if (this.waiters.length === 1) this.armHead();
    });
  }

  /** Closes the connection; pending replies reject with `error`. */
  destroy(error: Error): void {
    this.fail(error);
  }

  private armHead(): void {
    const head = this.waiters[0];
    if (!head || head.timeoutMs <= 0 || head.timer) return;
    head.timer = this.clock.setTimer(head.timeoutMs, () => {
      this.fail(new ErrRpcTimeout(`no reply from ${this.address} within ${head.timeoutMs} ms`));
    });
  }

  private onData(chunk: Buffer): void {
    if (this.failure) return;
    this.recv.append(chunk);
    try {
      while (this.waiters.length > 0 && this.recv.length > 0) {
        const head = this.waiters[0];
        const reply = decodeResponse(this.decoder, this.recv.view(), this.recv.offset, head.kind);
        if (reply === null) return;
        this.recv.consume(reply.bytesUsed);
        this.waiters.shift();
        head.timer?.cancel();
        this.reused = true;
        head.resolve(reply);
        this.armHead();
      }
      if (this.recv.length > 0) this.fail(new ErrPeerClosed(`unexpected bytes from ${this.address}`));
    } catch (error) {
      this.fail(error as Error);
    }
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.socket.destroy();
    for (const waiter of this.waiters.splice(0)) {
      waiter.timer?.cancel();
      waiter.reject(error);
    }
    this.settleDrains(error);
    this.onClosed(this);
  }

  private settleDrains(error: Error | null): void {
    const waiters = this.drainWaiters;
    if (waiters.length === 0) return;
    this.drainWaiters = [];
    for (const w of waiters) {
      if (error) w.reject(error);
      else w.resolve();
    }
  }
}
