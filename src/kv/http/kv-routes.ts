/**
 * The key routes: `GET /kv/{key}` (with its revision as ETag), `PUT` and `DELETE /kv/{key}` with
 * their conditions (`?prev=`, `If-Match`, `If-None-Match`) and `?lease=`, and the compare-and-set
 * body form `POST /kv/{key}?cas`. Every route validates its whole request before anything is
 * submitted to Raft, so a malformed request never applies. A plain put, delete or `?prev=` write
 * logs the version 1 command; anything with a revision condition or a lease logs a `txn`.
 */
import type { KvCommand, TxnCompare, TxnOp } from '../commands.js';
import type { KvApplyResult } from '../fsm.js';
import { encodeBase64, nullableBase64Field, parseLeaseId } from '../json-fields.js';
import { keyProblem } from '../validate.js';
import { HttpError, sendJson, sendJsonText } from './io.js';
import { parseBoundedInt, type KvRequest } from './request.js';
import type { RouteContext } from './route-context.js';
import type { Route } from './router.js';

/** What a conditional write asked for, from its query and headers. */
interface Conditions {
  compare: TxnCompare[];
  /** `?prev=` was given: the 412 reports the current value. */
  byValue: boolean;
}

export function kvRoutes(context: RouteContext): Route[] {
  const key = (request: KvRequest, access: 'read' | 'write'): string => {
    const decoded = request.param('key', 'key');
    const problem = keyProblem(decoded, access);
    if (problem !== null) throw new HttpError(400, problem);
    return decoded;
  };

  const write = async (request: KvRequest, command: KvCommand, conditions: Conditions): Promise<void> => {
    if (context.debugEarlyAck && conditions.compare.length === 0) {
      const applied = context.applyCommand(command);
      sendJsonText(request.res, 200, writeAnswer(0));
      await applied.catch(() => {});
      return;
    }
    const { index, result } = await context.applyCommand(command);
    const refusal = refusalOf(result, conditions);
    if (refusal === null) return sendJsonText(request.res, 200, writeAnswer(index));
    sendJson(request.res, refusal.status, { ...refusal.body, index });
  };

  /** A route on `/kv/{key}`: its handler gets the key, checked for `access` first. */
  const keyRoute = (
    method: string,
    access: 'read' | 'write',
    handle: (request: KvRequest, name: string) => Promise<void>,
  ): Route => ({
    method,
    path: '/kv/*key',
    label: 'kv',
    // No async wrapper: a promise and a hop less per request (the server catches a synchronous throw).
    handle: (request) => handle(request, key(request, access)),
  });

  return [
    keyRoute('GET', 'read', async (request, name) => {
      await context.readBarrier(request);
      const entry = context.fsm.entry(name);
      if (entry === undefined) throw new HttpError(404, 'key not found');
      request.res.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': entry.value.byteLength,
        ETag: `"${entry.revision}"`,
      });
      request.res.end(entry.value);
    }),
    keyRoute('PUT', 'write', async (request, name) => {
      const conditions = conditionsOf(request, name);
      const leaseText = request.query.get('lease');
      const lease = leaseText === undefined ? 0 : parseLeaseId(leaseText);
      if (lease === null) throw new HttpError(400, '?lease must be a lease ID (a decimal number)');
      context.requireLeader(request);
      const value = await request.body();
      const put: TxnOp = { op: 'put', key: name, value, lease };
      await write(request, commandFor(put, conditions, request), conditions);
    }),
    keyRoute('DELETE', 'write', async (request, name) => {
      const conditions = conditionsOf(request, name);
      context.requireLeader(request);
      await write(request, commandFor({ op: 'delete', key: name }, conditions, request), conditions);
    }),
    keyRoute('POST', 'write', async (request, name) => {
      if (!request.query.has('cas')) throw new HttpError(400, 'POST /kv/{key} needs ?cas (compare-and-set)');
      context.requireLeader(request);
      const body = await request.jsonBody();
      const prev = nullableBase64Field(body, 'prev');
      const value = nullableBase64Field(body, 'value');
      const compare: TxnCompare = prev === null ? { key: name, exists: false } : { key: name, value: prev };
      const conditions = { compare: [compare], byValue: true };
      const command: KvCommand =
        value === null
          ? { op: 'txn', compare: [compare], success: [{ op: 'delete', key: name }], failure: [] }
          : { op: 'cas', key: name, prev, value };
      await write(request, command, conditions);
    }),
  ];
}

/**
 * The answer to a write that applied, `{"index":N,"revision":N}` (WriteBody), without building an
 * object for JSON.stringify: a log index is a safe integer, which prints the same either way.
 */
export function writeAnswer(index: number): string {
  return `{"index":${index},"revision":${index}}`;
}

/** The log command of a write: version 1 when it can be, else a one-operation transaction. */
function commandFor(op: TxnOp, conditions: Conditions, request: KvRequest): KvCommand {
  const { compare } = conditions;
  const prev = request.query.has('prev');
  if (op.op === 'put' && op.lease === 0) {
    if (compare.length === 0) return { op: 'put', key: op.key, value: op.value };
    if (prev && compare.length === 1) {
      const only = compare[0];
      return { op: 'cas', key: op.key, prev: 'value' in only ? only.value : null, value: op.value };
    }
  }
  if (op.op === 'delete' && compare.length === 0) return { op: 'delete', key: op.key };
  return { op: 'txn', compare, success: [op], failure: [] };
}

/** The compares a write's `?prev=`, `If-Match` and `If-None-Match` ask for (all must hold). */
function conditionsOf(request: KvRequest, key: string): Conditions {
  const compare: TxnCompare[] = [];
  const prev = request.query.has('prev') ? request.queryBytes('prev')! : undefined;
  if (prev !== undefined) compare.push(prev.length === 0 ? { key, exists: false } : { key, value: prev });
  const ifMatch = singleHeader(request, 'if-match');
  if (ifMatch !== undefined) {
    // An absent key never matches, not even "0".
    compare.push({ key, exists: true });
    if (ifMatch !== '*') compare.push({ key, revision: parseEtag(ifMatch), cmp: '=' });
  }
  const ifNoneMatch = singleHeader(request, 'if-none-match');
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch !== '*') throw new HttpError(400, 'If-None-Match on a write takes only *');
    compare.push({ key, exists: false });
  }
  return { compare, byValue: prev !== undefined };
}

function singleHeader(request: KvRequest, name: string): string | undefined {
  const value = request.req.headers[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new HttpError(400, `${name} given more than once`);
  return value.trim();
}

/** `"42"` (one strong entity tag holding a revision); lists and weak tags are refused. */
function parseEtag(text: string): number {
  const match = /^"([0-9]{1,16})"$/.exec(text);
  if (match === null) throw new HttpError(400, 'If-Match must be * or one revision in quotes, such as "42"');
  return parseBoundedInt(match[1], 'If-Match', 0, Number.MAX_SAFE_INTEGER);
}

/** The answer of a write the state machine refused, or null when it applied. */
function refusalOf(
  result: KvApplyResult,
  conditions: Conditions,
): { status: number; body: Record<string, unknown> } | null {
  if (result.ok) {
    if (!('succeeded' in result) || result.succeeded) return null;
    const current = result.compared[0];
    const body: Record<string, unknown> = { error: 'precondition failed', revision: current.revision };
    if (conditions.byValue) body.current = current.value === null ? null : encodeBase64(current.value);
    return { status: 412, body };
  }
  switch (result.reason) {
    case 'cas-failed':
      return {
        status: 412,
        body: { error: 'compare-and-set failed: current value differs', current: result.current },
      };
    case 'lease-not-found':
      return { status: 404, body: { error: 'lease not found', lease: String(result.lease) } };
    default:
      throw new Error(`unexpected result of a write: ${JSON.stringify(result)}`);
  }
}
