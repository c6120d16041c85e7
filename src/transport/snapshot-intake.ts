/**
 * The receiving end of InstallSnapshot's raw bytes on a server connection: they stream to the
 * handler with backpressure and never pass through the connection's receive buffer, so a
 * snapshot of any size costs the inbound buffer budget nothing.
 */
import { Readable } from 'node:stream';

/** Snapshot chunks buffered for a slow consumer before the socket is paused. */
const SNAPSHOT_HIGH_WATER = 256 * 1024;

/**
 * Exactly `size` snapshot bytes handed to the handler as a Readable, with backpressure: when the
 * consumer falls behind, wantsData turns false and the connection pauses. Bytes the handler does
 * not read (it answered first, or destroyed the stream) are drained, so the next frame lines up.
 */
export class SnapshotIntake {
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
