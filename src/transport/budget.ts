/**
 * The node-wide budget for bytes held for incomplete inbound requests (see limits.ts). Each
 * connection keeps a BufferAccount; what it holds beyond its reserved share is charged to the
 * shared part, and it may grow only into what the shared part has left.
 */

import { RaftError } from '../core/errors.js';

/**
 * A request would not fit what is left of the inbound buffer budget: its connection is closed
 * (the sender retries later), so that the node's total stays bounded.
 */
export class ErrBufferBudget extends RaftError {
  /** `'ErrBufferBudget'`. */
  override name = 'ErrBufferBudget';
}

/** What one connection holds and how much of it is charged to the shared part. */
export interface BufferAccount {
  retained: number;
  charged: number;
}

export class BufferBudget {
  private sharedUsed = 0;
  private held = 0;

  constructor(
    /** Bytes shared by all connections beyond their own share. */
    private readonly shared: number,
    /** Each connection's own share. */
    private readonly perConnection: number,
  ) {}

  /** Bytes held for incomplete requests by all connections together. */
  get bufferedBytes(): number {
    return this.held;
  }

  /** The most a connection may hold right now: its own share, what it was charged, and what is left. */
  capacityFor(account: BufferAccount): number {
    return this.perConnection + account.charged + (this.shared - this.sharedUsed);
  }

  /** Records that the connection now holds `retained` bytes (0 once it closes). */
  update(account: BufferAccount, retained: number): void {
    const charge = Math.max(0, retained - this.perConnection);
    this.sharedUsed += charge - account.charged;
    this.held += retained - account.retained;
    account.charged = charge;
    account.retained = retained;
  }
}
