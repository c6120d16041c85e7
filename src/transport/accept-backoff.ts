/**
 * A listening server that survives running out of file descriptors, shared by the Raft transport's
 * stream layers and the KV service's HTTP server.
 *
 * libuv usually sheds the load itself (it closes a spare descriptor, accepts and closes the waiting
 * connections, and reopens the spare), so accept() failing with EMFILE rarely surfaces. When that
 * trick fails (another thread took the spare), node:net emits 'error' on the server, which would
 * crash a process without a listener, and libuv retries accept() at once. This pauses accepting
 * instead, as Go's net/http accept loop does: the listener closes (open connections stay), and
 * listens again after 5 ms, doubling up to 1 s while it keeps failing; a successful accept starts
 * the back-off over.
 */
import type { Server } from 'node:net';
import type { Clock, Timer } from '../core/clock.js';
import { Backoff, isDescriptorExhaustion } from './backoff.js';

/** Where an AcceptBackoff reports (any pino-compatible logger). */
export interface AcceptBackoffLogger {
  /** A pause, or a listener error that is not descriptor exhaustion. */
  warn(obj: object, msg?: string): void;
}

/** What an AcceptBackoff needs besides its server. */
export interface AcceptBackoffOptions {
  /** Where the server listens again: the host and port it was bound to. */
  bound: {
    /** The bound host (an IP address). */
    host: string;
    /** The bound port. */
    port: number;
  };
  /** Times the pauses (the injected Clock, so tests can step it). */
  clock: Clock;
  /** Gets one warning per pause; silent when absent. */
  logger?: AcceptBackoffLogger;
  /** Named in its log lines (say the advertised address). */
  name: string;
}

/**
 * Keeps `server` (already listening) alive through accept failures: it becomes the server's
 * 'error' listener. Call `stop()` before closing the server for good.
 */
export class AcceptBackoff {
  private readonly backoff = new Backoff();
  /** Set while the listener is closed after an accept failure, until it listens again. */
  private relisten: Timer | null = null;
  private relistening = false;
  private stopped = false;

  constructor(
    private readonly server: Server,
    private readonly options: AcceptBackoffOptions,
  ) {
    server.on('connection', () => this.backoff.reset());
    server.on('error', (error: Error) => this.onError(error));
    server.on('listening', () => (this.relistening = false));
  }

  /** No more listening again (the owner is closing the server). */
  stop(): void {
    this.stopped = true;
    this.relisten?.cancel();
    this.relisten = null;
  }

  private onError(error: Error): void {
    if (this.stopped || this.relisten) return;
    const { logger, clock, bound, name } = this.options;
    if (!isDescriptorExhaustion(error) && !this.relistening) {
      logger?.warn({ err: error.message, address: name }, 'listener error');
      return;
    }
    const delay = this.backoff.next();
    logger?.warn(
      { err: error.message, retryInMs: delay, address: name },
      'not accepting connections for a while: the listener failed',
    );
    this.server.close();
    this.relisten = clock.setTimer(delay, () => {
      this.relisten = null;
      if (this.stopped) return;
      this.relistening = true;
      this.server.listen({ host: bound.host, port: bound.port });
    });
  }
}
