/**
 * A follower's half of the command-form switch (src/kv/command-formats.ts): `kv serve` asks the
 * leader to record the forms this server reads (`POST /cluster/formats`, with the credentials it
 * joins with), because a follower cannot write to the log itself; a leader records its own
 * (src/kv/service.ts). Until every member's record is there the leader writes JSON, so a failure
 * here costs speed, never safety.
 */
import { RaftState, sleep, type Clock, type Logger, type Raft } from '../index.js';
import { READ_FORMATS, recordedFormats } from '../kv/command-formats.js';
import type { FormatsBody } from '../kv/contract.js';
import type { KvFsm } from '../kv/fsm.js';
import { kvRequest, type ClientCredentials } from './service-client.js';

/** Pause between checks while the record is missing (or the leader unknown). */
const RETRY_MS = 2_000;
/** After a refusal (a 4xx: no admin token, say), ask again only this much later. */
const REFUSED_RETRY_MS = 60_000;

export interface PublishFormatsOptions {
  raft: Raft;
  fsm: KvFsm;
  credentials: ClientCredentials;
  clock: Clock;
  logger: Logger;
  /** Stops the loop (the server is closing). */
  signal: AbortSignal;
}

/** Keeps this server's record published while it follows; runs until `signal` aborts. */
export function publishFormatsWhileFollowing(options: PublishFormatsOptions): void {
  const { clock, signal } = options;
  const loop = async () => {
    while (!signal.aborted) {
      const waitMs = await publishOnce(options);
      await sleep(clock, waitMs, signal).catch(() => {});
    }
  };
  void loop();
}

/** One check: asks the leader when the record is missing; how long to wait before the next one. */
export async function publishOnce(options: PublishFormatsOptions): Promise<number> {
  const { raft, fsm, logger } = options;
  const id = raft.config.localId;
  const wanted = READ_FORMATS.join(',');
  if (raft.state === RaftState.Leader || recordedFormats(fsm, id).join(',') === wanted) return RETRY_MS;
  const leader = raft.leader();
  const http = leader === null ? undefined : fsm.httpAddress(leader.id);
  if (http === undefined) return RETRY_MS;
  const body: FormatsBody = { id, formats: [...READ_FORMATS] };
  try {
    const response = await kvRequest(http, 'POST', '/cluster/formats', {
      body: JSON.stringify(body),
      contentType: 'application/json',
      credentials: options.credentials,
      clock: options.clock,
      signal: options.signal,
    });
    if (response.status === 200) return RETRY_MS;
    logger.warn(
      { leader: http, status: response.status, body: response.body.toString('utf8').slice(0, 200) },
      'kv: the leader did not record the command forms this server reads; the cluster keeps JSON commands',
    );
    return response.status < 500 ? REFUSED_RETRY_MS : RETRY_MS;
  } catch (error) {
    if (!options.signal.aborted)
      logger.warn({ leader: http, error: String(error) }, 'kv: could not reach the leader to record formats');
    return RETRY_MS;
  }
}
