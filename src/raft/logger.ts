/** The subset of pino's logger interface raftkit uses; pass a pino logger or anything alike. */
export interface Logger {
  /** Detail for debugging (RPC failures, snapshots taken). */
  debug(obj: object, msg?: string): void;
  /** Normal events (leadership, membership). */
  info(obj: object, msg?: string): void;
  /** Something is off but the node goes on (a peer unreachable, a corrupt file set aside). */
  warn(obj: object, msg?: string): void;
  /** The node stops or an operation failed (a failed fsync, a throwing FSM). */
  error(obj: object, msg?: string): void;
  /** A logger that adds `bindings` to every line (optional). */
  child?(bindings: object): Logger;
}

const noop = () => {};
/** The default logger: discards everything. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
