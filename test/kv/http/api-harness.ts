/**
 * A KvHttpServer over a FakeSingleNodeCluster (test/kv/fake-cluster.ts) on a free port, started
 * afresh before each test of the file that calls `useKvApi()` and closed after it.
 */
import { afterEach, beforeEach, expect } from 'vitest';
import type { KvFsmOptions } from '../../../src/kv/fsm.js';
import { KvHttpServer, type KvHttpOptions } from '../../../src/kv/http/server.js';
import { rawRequest, type RawResponse } from '../../support/raw-request.js';
import { FakeSingleNodeCluster } from '../fake-cluster.js';

export interface KvApi {
  readonly cluster: FakeSingleNodeCluster;
  readonly server: KvHttpServer;
  readonly base: string;
  /** Starts over (new cluster, new server) with these server and state machine options. */
  restart(options: Partial<KvHttpOptions>, fsmOptions?: KvFsmOptions): Promise<void>;
  req(
    method: string,
    path: string,
    body?: string | Buffer,
    headers?: Record<string, string>,
  ): Promise<RawResponse>;
  /** A request with a JSON body, as the cluster routes require (`Content-Type: application/json`). */
  json(method: string, path: string, body?: string, headers?: Record<string, string>): Promise<RawResponse>;
}

export function useKvApi(): KvApi {
  let cluster: FakeSingleNodeCluster;
  let server: KvHttpServer;
  let base: string;
  const start = async (options: Partial<KvHttpOptions> = {}, fsmOptions: KvFsmOptions = {}) => {
    cluster = new FakeSingleNodeCluster('n1', '127.0.0.1:7001', fsmOptions);
    server = new KvHttpServer({ cluster, fsm: cluster.fsm, ...options });
    base = await server.listen(0);
  };
  beforeEach(() => start());
  afterEach(() => server.close());
  return {
    get cluster() {
      return cluster;
    },
    get server() {
      return server;
    },
    get base() {
      return base;
    },
    async restart(options, fsmOptions) {
      await server.close();
      await start(options, fsmOptions);
    },
    req: (method, path, body, headers) => rawRequest(base, method, path, { body, headers }),
    json: (method, path, body, headers) =>
      rawRequest(base, method, path, { body, headers: { 'Content-Type': 'application/json', ...headers } }),
  };
}

/** A refusal as the contract states it: this status, JSON, with an `error` string. */
export function expectJsonError(res: RawResponse, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/json');
  expect(typeof (res.json() as { error: unknown }).error).toBe('string');
}
