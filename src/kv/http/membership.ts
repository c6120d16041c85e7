/**
 * Membership changes through the HTTP API, made safe: a join may not take over another member's
 * ID or addresses (409) nor name an address nobody can dial (400); a join that repeats the current
 * membership succeeds without changing anything; a new server is added as a non-voter, promoted
 * only once it has caught up (as etcd's learners), and removed again when it does not catch up in
 * time, so no half-added server stays in the configuration. Changes run one at a time, in order.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ErrNotLeader, sleep, type Clock } from '../../index.js';
import { formatsKey, formatsRecord, formatsRecordIds, recordedFormats } from '../command-formats.js';
import { httpAddressKey } from '../commands.js';
import type { StatusMember } from '../contract.js';
import { isWildcardHost } from '../validate.js';
import { HttpError } from './io.js';
import type { RouteContext } from './route-context.js';

/** The addresses a host name resolves to (rejects or resolves empty when it does not). */
export type HostResolver = (host: string) => Promise<string[]>;

/** A join as the route validated it. */
export interface JoinRequest {
  id: string;
  /** The Raft address, host:port. */
  address: string;
  /** The HTTP base URL (normalized origin). */
  http: string;
  voter: boolean;
  /** Change the addresses of an existing member (the admin's explicit override). */
  replace: boolean;
  /** The command forms the joiner reads; null when it did not say (a raftkit before them: JSON only). */
  formats: string[] | null;
}

/** What a join did: nothing (it was already so), added the server, changed its addresses, or promoted it. */
export type JoinOutcome = 'unchanged' | 'added' | 'replaced' | 'promoted';

export interface MembershipOptions {
  context: RouteContext;
  /** How long a new server may take to catch up before it is removed again, in ms (default 60 s). */
  joinTimeout?: number;
  resolveHost?: HostResolver;
}

/** Default of MembershipOptions.joinTimeout. */
export const DEFAULT_JOIN_TIMEOUT_MS = 60_000;
/** Changes waiting their turn at most; more answer 503. */
const MAX_QUEUED_CHANGES = 16;
const CATCH_UP_POLL_MS = 100;
const RESOLVE_TIMEOUT_MS = 5_000;

const systemResolver: HostResolver = async (host) =>
  (await lookup(host, { all: true })).map((entry) => entry.address);

export class Membership {
  private readonly context: RouteContext;
  private readonly clock: Clock;
  private readonly joinTimeout: number;
  private readonly resolveHost: HostResolver;
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  /** Joins waiting or running, by server ID, so that a retried join waits for the first. */
  private readonly joining = new Map<string, { key: string; outcome: Promise<JoinOutcome> }>();

  constructor(options: MembershipOptions) {
    this.context = options.context;
    this.clock = options.context.clock;
    this.joinTimeout = options.joinTimeout ?? DEFAULT_JOIN_TIMEOUT_MS;
    this.resolveHost = options.resolveHost ?? systemResolver;
  }

  /** Adds a server, or confirms it is already there; see the module comment for the rules. */
  async join(request: JoinRequest): Promise<JoinOutcome> {
    await this.checkRoutable('address', request.address);
    await this.checkRoutable('http', new URL(request.http).host);
    const key = JSON.stringify([
      request.address,
      request.http,
      request.voter,
      request.replace,
      request.formats,
    ]);
    const running = this.joining.get(request.id);
    if (running !== undefined) {
      if (running.key === key) return running.outcome;
      throw new HttpError(409, `a join of ${request.id} with other addresses is in progress`);
    }
    const outcome = this.serialize(() => this.joinNow(request));
    this.joining.set(request.id, { key, outcome });
    try {
      return await outcome;
    } finally {
      this.joining.delete(request.id);
    }
  }

  /**
   * Removes a server and forgets its HTTP address. A leader that removes itself steps down once the
   * change commits and cannot forget its own address: the next leader does (forgetRemoved).
   */
  remove(id: string): Promise<void> {
    return this.serialize(async () => {
      this.requireLeader();
      await this.context.cluster.removeServer(id);
      if (id !== this.context.cluster.id) await this.forgetHttpAddress(id);
    });
  }

  /**
   * On the leader: deletes the HTTP address of every server the configuration no longer names,
   * however it was removed (this API, the library's removeServer, a leader that removed itself).
   * Runs in turn with joins, so a join's address, written just before its server is added, stays.
   */
  forgetRemoved(): Promise<void> {
    return this.serialize(async () => {
      const { cluster, fsm } = this.context;
      if (cluster.serverState() !== 'Leader') return;
      const members = new Set(cluster.status().configuration.map((member) => member.id));
      for (const id of fsm.httpAddressIds()) {
        if (members.has(id)) continue;
        this.context.logger.info({ id }, 'kv: forgetting the HTTP address of a removed server');
        await this.forgetHttpAddress(id);
      }
      // An older server reusing the ID must not inherit a record saying it reads binary commands.
      for (const id of formatsRecordIds(fsm)) {
        if (!members.has(id)) await this.forgetFormats(id);
      }
    });
  }

  /**
   * Records the command forms member `id` reads (`POST /cluster/formats`, sent by a follower's
   * `kv serve`); 404 for a server the configuration does not name.
   */
  publishFormats(id: string, formats: string[]): Promise<void> {
    return this.serialize(async () => {
      this.requireLeader();
      if (!this.context.cluster.status().configuration.some((member) => member.id === id))
        throw new HttpError(404, `server ${id} is not in the configuration`);
      await this.putFormats(id, formats);
    });
  }

  /** Throws ErrNotLeader (a 307 or 503 for the caller) once this server no longer leads. */
  private requireLeader(): void {
    if (this.context.cluster.serverState() !== 'Leader') throw new ErrNotLeader();
  }

  /** Runs membership changes one at a time, in arrival order, a failed one not stopping the next. */
  private serialize<T>(change: () => Promise<T>): Promise<T> {
    if (this.queued >= MAX_QUEUED_CHANGES) {
      throw new HttpError(503, `${MAX_QUEUED_CHANGES} membership changes are waiting already; retry later`);
    }
    this.queued++;
    const run = this.tail.then(change);
    this.tail = run.then(
      () => void this.queued--,
      () => void this.queued--,
    );
    return run;
  }

  private async joinNow(request: JoinRequest): Promise<JoinOutcome> {
    const { cluster, fsm } = this.context;
    this.requireLeader();
    const members = cluster.status().configuration;
    this.checkAddressesFree(request, members);
    const member = members.find((candidate) => candidate.id === request.id);
    const published = fsm.httpAddress(request.id);
    await this.recordFormats(request.id, request.formats);
    if (member === undefined) {
      // It would be handed the log's binary commands while it catches up.
      if (request.formats === null && this.context.formats.wanted === 'binary') {
        throw new HttpError(
          409,
          `this cluster's log may hold binary commands (--command-format binary), which ${request.id} ` +
            'does not read (its join names no "formats"); upgrade it, or run the cluster with ' +
            '--command-format json until its log has been compacted past the last binary command',
        );
      }
      return this.addNew(request);
    }
    // A member that never led and was not added by a join (a --peers bootstrap) has published no
    // HTTP address: nobody but the admin may name one for it, or any client could point its
    // future redirects at a server of their choosing.
    const same = member.address === request.address && published === request.http;
    if (!same) {
      if (!request.replace) {
        throw new HttpError(
          409,
          `${request.id} is already a member at ${member.address} (HTTP ${published ?? 'not published'}); ` +
            'send "replace": true with the admin token to change its addresses',
        );
      }
      return this.replace(request, member, published);
    }
    if (request.voter && member.suffrage === 'Nonvoter') {
      // A join that a leader change interrupted, retried: carry on where it stopped.
      await this.catchUpOrRollBack(request);
      return 'promoted';
    }
    return 'unchanged';
  }

  private async addNew(request: JoinRequest): Promise<JoinOutcome> {
    // The address goes in first: once the member is in, it may become leader and need it for redirects.
    if (this.context.fsm.httpAddress(request.id) !== request.http) {
      await this.putHttpAddress(request.id, request.http);
    }
    try {
      await this.context.cluster.addNonvoter(request.id, request.address);
    } catch (error) {
      await this.forgetHttpAddress(request.id);
      throw error;
    }
    await this.catchUpOrRollBack(request);
    return 'added';
  }

  /** Waits for the non-voter to catch up and promotes it if asked; removes it when that fails. */
  private async catchUpOrRollBack(request: JoinRequest): Promise<void> {
    const { cluster } = this.context;
    try {
      await this.waitCaughtUp(request);
      if (request.voter) await cluster.addVoter(request.id, request.address);
    } catch (error) {
      // A server that lost leadership cannot change the configuration: the new leader sees the
      // non-voter, and the joiner's retry of the same join carries on there.
      if (cluster.serverState() !== 'Leader') throw error;
      try {
        await cluster.removeServer(request.id);
      } catch (rollbackError) {
        throw new HttpError(
          504,
          `joining ${request.id} failed (${messageOf(error)}) and so did removing it again ` +
            `(${messageOf(rollbackError)}): check the configuration in /status`,
        );
      }
      await this.forgetHttpAddress(request.id);
      if (error instanceof HttpError) throw error;
      throw new HttpError(504, `joining ${request.id} failed (${messageOf(error)}); it was removed again`);
    }
  }

  /** Resolves once the leader has replicated to `id` everything committed when it was added. */
  private async waitCaughtUp(request: JoinRequest): Promise<void> {
    const { cluster } = this.context;
    const target = cluster.status().commitIndex;
    const deadline = this.clock.now() + this.joinTimeout;
    for (;;) {
      this.requireLeader();
      const match = cluster.matchIndex(request.id);
      if (match !== null && match >= target) return;
      if (this.clock.now() >= deadline) {
        throw new HttpError(
          504,
          `${request.id} did not catch up within ${this.joinTimeout} ms (is it running, and can this ` +
            `server reach ${request.address}?); it was removed again`,
        );
      }
      await sleep(this.clock, CATCH_UP_POLL_MS);
    }
  }

  private async replace(
    request: JoinRequest,
    member: StatusMember,
    published: string | undefined,
  ): Promise<JoinOutcome> {
    if (published !== request.http) await this.putHttpAddress(request.id, request.http);
    if (member.address !== request.address) {
      // hashicorp semantics: adding an existing ID changes its address and keeps its suffrage.
      const { cluster } = this.context;
      if (member.suffrage === 'Voter') await cluster.addVoter(request.id, request.address);
      else await cluster.addNonvoter(request.id, request.address);
    }
    return 'replaced';
  }

  /** 409 when another member already uses the Raft address or the HTTP address. */
  private checkAddressesFree(request: JoinRequest, members: StatusMember[]): void {
    for (const other of members) {
      if (other.id === request.id) continue;
      if (other.address === request.address) {
        throw new HttpError(409, `Raft address ${request.address} is already used by member ${other.id}`);
      }
      if (this.context.fsm.httpAddress(other.id) === request.http) {
        throw new HttpError(409, `HTTP address ${request.http} is already used by member ${other.id}`);
      }
    }
  }

  /** 400 for an address no other server can dial: a wildcard, port 0, or a name that does not resolve. */
  private async checkRoutable(field: 'address' | 'http', hostAndPort: string): Promise<void> {
    const { hostname, port } = new URL(`http://${hostAndPort}`);
    const host = hostname.replace(/^\[(.*)\]$/, '$1');
    const refuse = (why: string) => new HttpError(400, `"${field}" ${hostAndPort} ${why}`);
    if (port === '0') throw refuse('has port 0');
    let addresses: string[];
    if (isIP(host) !== 0) addresses = [host];
    else {
      try {
        addresses = await this.resolveWithin(host);
      } catch (error) {
        throw refuse(`does not resolve (${messageOf(error)})`);
      }
    }
    if (addresses.length === 0) throw refuse('does not resolve');
    if (addresses.some(isWildcardHost)) throw refuse('is a wildcard address no other server can dial');
  }

  private resolveWithin(host: string): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimer(RESOLVE_TIMEOUT_MS, () =>
        reject(new Error(`no answer within ${RESOLVE_TIMEOUT_MS} ms`)),
      );
      this.resolveHost(host).then(
        (addresses) => (timer.cancel(), resolve(addresses)),
        (error: unknown) => (timer.cancel(), reject(error as Error)),
      );
    });
  }

  private async putHttpAddress(id: string, http: string): Promise<void> {
    await this.context.applyCommand({ op: 'put', key: httpAddressKey(id), value: Buffer.from(http) });
  }

  private async putFormats(id: string, formats: string[]): Promise<void> {
    const record = formatsRecord(formats);
    if (recordedFormats(this.context.fsm, id).join(',') === record) return;
    await this.context.applyCommand({ op: 'put', key: formatsKey(id), value: Buffer.from(record) });
  }

  /** A join's formats: recorded, or (a joiner that names none reads only JSON) any old record deleted. */
  private async recordFormats(id: string, formats: string[] | null): Promise<void> {
    if (formats !== null) return this.putFormats(id, formats);
    if (this.context.fsm.get(formatsKey(id)) !== undefined)
      await this.context.applyCommand({ op: 'delete', key: formatsKey(id) });
  }

  private forgetFormats(id: string): Promise<void> {
    return this.forget(id, formatsKey(id), "a removed server's command forms");
  }

  private forgetHttpAddress(id: string): Promise<void> {
    return this.forget(id, httpAddressKey(id), 'the HTTP address of a removed server');
  }

  /** Deletes a removed server's reserved key; a failure is logged (the change itself committed). */
  private async forget(id: string, key: string, what: string): Promise<void> {
    try {
      await this.context.applyCommand({ op: 'delete', key });
    } catch (error) {
      // A stale entry only costs a key: the rules read the records of members only.
      this.context.logger.warn({ id, error: messageOf(error) }, `kv: could not forget ${what}`);
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
