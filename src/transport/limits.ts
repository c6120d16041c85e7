/**
 * The limits a NetworkTransport puts on what its peers can make it hold: one place for each
 * bound, its default and its validation. See README "Security and failure model".
 *
 * Memory for incomplete requests is one node-wide budget, `maxBufferedBytes`. Each inbound
 * connection is guaranteed the first CONNECTION_BUFFER_BYTES of it (enough for votes, heartbeats
 * and ordinary AppendEntries), reserved for `maxInboundConnections` connections; the rest is
 * shared by the requests that need more. A request that cannot be buffered within what is left
 * closes its connection, so the total never exceeds the budget whatever the peers send.
 */
import { ErrInvalidConfig } from '../core/errors.js';

/**
 * Largest request (or response) frame accepted by default: 32 MiB. Refused before it is buffered
 * when its msgpack length prefixes already tell, else as soon as the buffered part outgrows it.
 * A leader must keep each AppendEntries below its followers' maximum (split batches by bytes).
 */
export const DEFAULT_MAX_FRAME_BYTES = 32 * 1024 * 1024;

/** Bytes all inbound connections together may hold for incomplete requests, by default. */
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

/** Inbound connections open at once, by default; more are closed as they arrive. */
export const DEFAULT_MAX_INBOUND_CONNECTIONS = 256;

/** Idle inbound connections (nothing in progress) are closed after this many ms by default. */
export const DEFAULT_IDLE_TIMEOUT = 60_000;

/**
 * What each inbound connection may buffer out of its reserved share: one socket read (64 KiB in
 * Node), so no ordinary request ever needs the shared part. An empty connection holds nothing.
 */
export const CONNECTION_BUFFER_BYTES = 64 * 1024;

/** The inbound limits as NetworkTransportOptions give them (all optional). */
export interface InboundLimitOptions {
  /** Largest request or response frame, in bytes. Default 32 MiB. */
  maxFrameBytes?: number;
  /** Bytes all inbound connections may hold for incomplete requests together. Default 64 MiB. */
  maxBufferedBytes?: number;
  /** Inbound connections open at once; more are closed at once and logged. Default 256. */
  maxInboundConnections?: number;
  /**
   * A request must arrive in full within this many ms of its first byte, snapshot data must not
   * stall for longer, and a peer must not leave our replies unread for longer; else the connection
   * is closed. Default: the transport's `timeout` (the RPC deadline its clients use).
   */
  readTimeout?: number;
  /** Inbound connections with nothing in progress are closed after this many ms; 0 keeps them. Default 60 s. */
  idleTimeout?: number;
}

export interface InboundLimits {
  readonly maxFrameBytes: number;
  readonly maxBufferedBytes: number;
  readonly maxInboundConnections: number;
  readonly readTimeout: number;
  readonly idleTimeout: number;
  /** The part of maxBufferedBytes not reserved for connections' own CONNECTION_BUFFER_BYTES. */
  readonly sharedBufferBytes: number;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new ErrInvalidConfig(`${name} must be a positive integer, got ${value}`);
  return value;
}

/** Applies the defaults and checks that the limits fit together; throws ErrInvalidConfig. */
export function resolveInboundLimits(options: InboundLimitOptions, timeout: number): InboundLimits {
  const maxFrameBytes = positiveInteger('maxFrameBytes', options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
  const maxBufferedBytes = positiveInteger(
    'maxBufferedBytes',
    options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
  );
  const maxInboundConnections = positiveInteger(
    'maxInboundConnections',
    options.maxInboundConnections ?? DEFAULT_MAX_INBOUND_CONNECTIONS,
  );
  const readTimeout = positiveInteger('readTimeout', options.readTimeout ?? timeout);
  const idleTimeout = options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT;
  if (!Number.isSafeInteger(idleTimeout) || idleTimeout < 0)
    throw new ErrInvalidConfig(`idleTimeout must be 0 or a positive integer, got ${idleTimeout}`);
  const sharedBufferBytes = maxBufferedBytes - maxInboundConnections * CONNECTION_BUFFER_BYTES;
  // One request of the largest size must always fit when nobody else holds anything.
  if (sharedBufferBytes < maxFrameBytes)
    throw new ErrInvalidConfig(
      `maxBufferedBytes (${maxBufferedBytes}) must hold maxFrameBytes (${maxFrameBytes}) plus ` +
        `${CONNECTION_BUFFER_BYTES} bytes for each of maxInboundConnections (${maxInboundConnections})`,
    );
  return {
    maxFrameBytes,
    maxBufferedBytes,
    maxInboundConnections,
    readTimeout,
    idleTimeout,
    sharedBufferBytes,
  };
}
