/**
 * InmemTransport (hashicorp's InmemTransport): nodes of one process talk through an InmemNetwork.
 * The network decides how a request travels: the plain InmemNetwork delivers at once and can
 * partition servers; the simulator's network (src/testing) delays, drops, duplicates and reorders
 * under virtual time through the same interface.
 */
import type { Readable } from 'node:stream';
import type { Clock } from '../core/clock.js';
import { ErrTransportShutdown, RaftError } from '../core/errors.js';
import type { Peer, RaftRequest, RaftResponse, ResponseMap, ServerAddress } from '../core/types.js';
import { RpcTransport, type IncomingRpc, type RpcHandler, type Transport } from './types.js';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** How requests travel between InmemTransports. */
export interface InmemNetworkLike {
  /** Makes `transport` reachable at its address (its constructor calls this). */
  register(transport: InmemTransport): void;
  /** Makes it unreachable again (its close calls this). */
  unregister(transport: InmemTransport): void;
  /** Carries one RPC from `from` to the transport at `to`; resolves with its response. */
  deliver(
    from: InmemTransport,
    to: ServerAddress,
    request: RaftRequest,
    data?: Readable,
  ): Promise<RaftResponse>;
}

/** The in-memory network could not carry a request or its response (partitioned or unknown). */
export class ErrUnreachable extends RaftError {
  /** `'ErrUnreachable'`. */
  override name = 'ErrUnreachable';
}

/** Delivers at once (on the next microtask); servers can be cut off from each other. */
export class InmemNetwork implements InmemNetworkLike {
  private readonly transports = new Map<ServerAddress, InmemTransport>();
  /** Pairs "a|b" that cannot reach each other (one direction each). */
  private readonly cut = new Set<string>();

  register(transport: InmemTransport): void {
    this.transports.set(transport.localAddr(), transport);
  }

  unregister(transport: InmemTransport): void {
    if (this.transports.get(transport.localAddr()) === transport)
      this.transports.delete(transport.localAddr());
  }

  /** Stops traffic from a to b (and b to a unless oneWay). */
  disconnect(a: ServerAddress, b: ServerAddress, oneWay = false): void {
    this.cut.add(`${a}|${b}`);
    if (!oneWay) this.cut.add(`${b}|${a}`);
  }

  /** Cuts `address` off from everyone. */
  isolate(address: ServerAddress): void {
    for (const other of this.transports.keys()) if (other !== address) this.disconnect(address, other);
  }

  /** Restores every link. */
  heal(): void {
    this.cut.clear();
  }

  async deliver(
    sender: InmemTransport,
    to: ServerAddress,
    request: RaftRequest,
    data?: Readable,
  ): Promise<RaftResponse> {
    await Promise.resolve();
    const from = sender.localAddr();
    const target = this.transports.get(to);
    if (!target || this.cut.has(`${from}|${to}`))
      throw new ErrUnreachable(`${to} is unreachable from ${from}`);
    const response = await target.receive(request, data);
    if (this.cut.has(`${to}|${from}`)) throw new ErrUnreachable(`response from ${to} lost`);
    return response;
  }
}

/**
 * hashicorp's InmemTransport: a Transport for servers in one process, joined by an InmemNetwork
 * (or the simulator's network). `timeout` bounds each call, as NetworkTransport's does.
 */
export class InmemTransport extends RpcTransport implements Transport {
  private handler: RpcHandler | null = null;
  private closed = false;

  constructor(
    private readonly network: InmemNetworkLike,
    private readonly address: ServerAddress,
    private readonly options: { clock?: Clock; timeout?: number } = {},
  ) {
    super();
    network.register(this);
  }

  localAddr(): ServerAddress {
    return this.address;
  }

  setHandler(handler: RpcHandler): void {
    this.handler = handler;
  }

  /** Called by the network: hands the request to our handler and waits for its response. */
  receive(request: RaftRequest, data?: Readable): Promise<RaftResponse> {
    const handler = this.handler;
    if (this.closed || !handler) return Promise.reject(new ErrTransportShutdown());
    return new Promise<RaftResponse>((resolve, reject) => {
      const rpc: IncomingRpc = {
        request,
        data,
        respond: (response, error) => {
          if (error) reject(error);
          else if (response) resolve(response);
          else reject(new RaftError('empty response'));
        },
      };
      handler(rpc);
    });
  }

  protected call<K extends keyof ResponseMap>(
    target: Peer,
    request: RaftRequest & { kind: K },
    data?: Readable,
  ): Promise<ResponseMap[K]> {
    if (this.closed) return Promise.reject(new ErrTransportShutdown());
    const delivery = this.network.deliver(this, target.address, request, data) as Promise<ResponseMap[K]>;
    const { clock, timeout } = this.options;
    if (!clock || !timeout) return delivery;
    return new Promise((resolve, reject) => {
      const timer = clock.setTimer(timeout, () =>
        reject(new RaftError(`rpc to ${target.address} timed out`)),
      );
      delivery.then(
        (response) => (timer.cancel(), resolve(response)),
        (error: Error) => (timer.cancel(), reject(error)),
      );
    });
  }

  encodePeer(_id: string, address: ServerAddress): Uint8Array {
    return textEncoder.encode(address);
  }

  decodePeer(bytes: Uint8Array): ServerAddress {
    return textDecoder.decode(bytes);
  }

  close(): Promise<void> {
    this.closed = true;
    this.network.unregister(this);
    return Promise.resolve();
  }
}
