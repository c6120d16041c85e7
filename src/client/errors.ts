/**
 * The client's typed errors. Every failure of a call is one of these (or the caller's own abort
 * reason), so that a caller can tell "refused, nothing happened" from "might have happened".
 */
import type { ErrorBody } from '../kv/contract.js';

/** The base of every error `raftkit/client` throws. */
export class KvClientError extends Error {
  /** `'KvClientError'`. */
  override name = 'KvClientError';
}

/** The service answered with a refusal (4xx/5xx other than the cases below); nothing was applied. */
export class KvHttpError extends KvClientError {
  /** `'KvHttpError'`. */
  override name = 'KvHttpError';
  constructor(
    /** The HTTP status. */
    readonly status: number,
    /** The JSON answer (`{}` when the body was not the contract's error object). */
    readonly body: Partial<ErrorBody>,
    message: string,
  ) {
    super(message);
  }
}

/** `412`: a condition of a write (If-Match, If-None-Match, prev) did not hold; nothing was applied. */
export class PreconditionFailedError extends KvHttpError {
  /** `'PreconditionFailedError'`. */
  override name = 'PreconditionFailedError';
  /** The key's current revision, when the server said (0: absent). */
  get revision(): number | undefined {
    return this.body.revision;
  }
}

/**
 * A write whose outcome is unknown: the service answered `504`, or the connection broke after the
 * request was sent. It may or may not have been applied; the client never retries it (that could
 * apply it twice). Read the key (or its revision) to find out.
 */
export class OutcomeUnknownError extends KvClientError {
  /** `'OutcomeUnknownError'`. */
  override name = 'OutcomeUnknownError';
}

/** No member could serve the call before its deadline (unreachable, no leader, too many redirects). */
export class UnavailableError extends KvClientError {
  /** `'UnavailableError'`. */
  override name = 'UnavailableError';
}

/** The call's timeout passed (the call's own `timeout` or the client's default). */
export class KvTimeoutError extends KvClientError {
  /** `'KvTimeoutError'`. */
  override name = 'KvTimeoutError';
}

/**
 * `410`: a watch asked for revisions older than the service's history. Read the range again and
 * watch from the range's revision.
 */
export class CompactedError extends KvClientError {
  /** `'CompactedError'`. */
  override name = 'CompactedError';
  constructor(
    /** The oldest revision the service can still watch from. */
    readonly compactRevision: number,
    message: string,
  ) {
    super(message);
  }
}

/** A lease (or the lease of a lock) is gone: expired, revoked, or not kept alive within its TTL. */
export class LeaseLostError extends KvClientError {
  /** `'LeaseLostError'`. */
  override name = 'LeaseLostError';
}

/** The service sent something the contract does not allow (a malformed answer, an oversized one). */
export class ProtocolError extends KvClientError {
  /** `'ProtocolError'`. */
  override name = 'ProtocolError';
}

/** `409` of `POST /locks/{name}`: the lock was not acquired within the wait; nothing is held. */
export class LockBusyError extends KvHttpError {
  /** `'LockBusyError'`. */
  override name = 'LockBusyError';
}
