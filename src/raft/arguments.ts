/**
 * Checks of the public API's arguments. JavaScript callers (and `as any` TypeScript) can pass
 * anything; a wrong type reaching the core would be written to the log in a form the encoder does
 * not expect (a string payload is stored as zeros while the leader's FSM sees the string, so the
 * replicas diverge). Every entry point runs its arguments through these checks before anything
 * is proposed: a wrong type is a TypeError, a number out of its range a RangeError.
 */
import { checkConfiguration } from '../core/configuration.js';
import { ErrAborted } from '../core/errors.js';
import { ServerSuffrage, type Configuration, type Server } from '../core/types.js';
import { MAX_CONFIGURATION_SERVERS, MAX_PEER_BYTES } from '../wire/bounds.js';
import type { ApplyOptions, ReadOptions } from './options.js';

/** Largest wait a timer can arm (Node clamps longer delays to 1 ms, which would fire at once). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${JSON.stringify(value.slice(0, 20))})`;
  return typeof value === 'object'
    ? `an object (${value.constructor?.name ?? 'no prototype'})`
    : typeof value;
}

/** A payload: a Uint8Array (a Buffer is one). */
export function requireBytes(name: string, value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  throw new TypeError(`${name} must be a Uint8Array (or Buffer), got ${describe(value)}`);
}

/** A server ID or address: a non-empty string. */
export function requireName(name: string, value: unknown): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${describe(value)}`);
  if (value.length === 0) throw new RangeError(`${name} must not be empty`);
  return value;
}

/** A log index or a duration in milliseconds: a safe integer >= 0, at most `max`. */
export function requireCount(name: string, value: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${describe(value)}`);
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${name} must be an integer in [0, ${max}], got ${value}`);
  }
  return value;
}

const SUFFRAGES: readonly unknown[] = [ServerSuffrage.Voter, ServerSuffrage.Nonvoter, ServerSuffrage.Staging];

/**
 * A cluster configuration from a caller: `{ servers: [{ id, address, suffrage }] }` with string
 * IDs and addresses no longer than the wire accepts in a header, a known suffrage, at most as many
 * servers as a decoder reads back, then hashicorp's sanity check (unique non-empty IDs and
 * addresses, at least one voter: ErrInvalidConfiguration). Returns a copy holding only those
 * fields, so nothing else the object carries reaches the log.
 */
export function requireConfiguration(name: string, value: unknown): Configuration {
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${name} must be an object with servers, got ${describe(value)}`);
  }
  const { servers } = value as Record<string, unknown>;
  if (!Array.isArray(servers))
    throw new TypeError(`${name}.servers must be an array, got ${describe(servers)}`);
  if (servers.length > MAX_CONFIGURATION_SERVERS) {
    throw new RangeError(`${name} lists ${servers.length} servers (at most ${MAX_CONFIGURATION_SERVERS})`);
  }
  const configuration = {
    servers: servers.map((server: unknown, at) => requireServer(`${name}.servers[${at}]`, server)),
  };
  checkConfiguration(configuration);
  return configuration;
}

function requireServer(name: string, value: unknown): Server {
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${name} must be an object, got ${describe(value)}`);
  }
  const { id, address, suffrage } = value as Record<string, unknown>;
  if (!SUFFRAGES.includes(suffrage)) {
    throw new TypeError(`${name}.suffrage must be a ServerSuffrage (0, 1 or 2), got ${String(suffrage)}`);
  }
  return {
    id: requirePeerText(`${name}.id`, id),
    address: requirePeerText(`${name}.address`, address),
    suffrage: suffrage as ServerSuffrage,
  };
}

/** A string a peer would send in an RPC header: at most MAX_PEER_BYTES (emptiness is checked later). */
function requirePeerText(name: string, value: unknown): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${describe(value)}`);
  if (Buffer.byteLength(value) > MAX_PEER_BYTES) {
    throw new RangeError(`${name} is longer than ${MAX_PEER_BYTES} bytes`);
  }
  return value;
}

/** The options of a wait: `timeout` in ms (0 or absent = none) and an AbortSignal. */
export function requireWaitOptions(options: unknown): ReadOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`options must be an object, got ${describe(options)}`);
  }
  const { timeout, signal, lease } = options as Record<string, unknown>;
  if (timeout !== undefined) requireCount('options.timeout', timeout, MAX_TIMEOUT_MS);
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`options.signal must be an AbortSignal, got ${describe(signal)}`);
  }
  if (lease !== undefined && typeof lease !== 'boolean') {
    throw new TypeError(`options.lease must be a boolean, got ${describe(lease)}`);
  }
  return options as ApplyOptions;
}

/**
 * Runs `check` and turns what it throws into a rejected promise: the public waits report every
 * failure the same way, as a rejection, never as a synchronous throw.
 */
export function checked<T>(check: () => void, run: () => Promise<T>): Promise<T> {
  try {
    check();
  } catch (error) {
    return Promise.reject(error as Error);
  }
  return run();
}

/**
 * The checks every wait makes before it starts anything: its options are well-formed, and a
 * signal that is already aborted refuses at once. Returns the rejection, or null to go on.
 */
export function refuseWait(options: unknown): Promise<never> | null {
  try {
    if (requireWaitOptions(options).signal?.aborted) return Promise.reject(new ErrAborted());
  } catch (error) {
    return Promise.reject(error as Error);
  }
  return null;
}
