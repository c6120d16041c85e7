/**
 * The key routes: `GET`, `PUT` (and compare-and-set with `?prev=`) and `DELETE /kv/{key}`. Every
 * route validates its whole request before anything is submitted to Raft, so a malformed request
 * never applies.
 */
import type { KvCommand } from '../commands.js';
import type { WriteBody } from '../contract.js';
import { keyProblem } from '../validate.js';
import { HttpError, sendJson } from './io.js';
import type { KvRequest } from './request.js';
import type { RouteContext } from './route-context.js';
import type { Route } from './router.js';

export interface KvRouteOptions {
  /**
   * TEST ONLY, deliberately broken: answer every read from local state, as `?stale` does, so that
   * `raftkit chaos --break stale-reads` can show its linearizability checker catching it.
   */
  debugStaleReads: boolean;
}

export function kvRoutes(context: RouteContext, options: KvRouteOptions): Route[] {
  const key = (request: KvRequest, access: 'read' | 'write'): string => {
    const decoded = request.param('key', 'key');
    const problem = keyProblem(decoded, access);
    if (problem !== null) throw new HttpError(400, problem);
    return decoded;
  };

  const write = async (request: KvRequest, command: KvCommand): Promise<void> => {
    const { index, result } = await context.applyCommand(command);
    if (result.ok) return sendJson(request.res, 200, { index } satisfies WriteBody);
    if (result.reason === 'cas-failed') {
      return sendJson(request.res, 412, {
        error: 'compare-and-set failed: current value differs',
        index,
        current: result.current,
      });
    }
    throw new Error(`state machine refused the command: ${result.error}`);
  };

  return [
    {
      method: 'GET',
      path: '/kv/*key',
      label: 'kv',
      async handle(request) {
        const name = key(request, 'read');
        if (!request.flag('stale') && !options.debugStaleReads) {
          context.requireLeader(request);
          await context.cluster.linearizableRead({ timeout: context.timeout });
        }
        const value = context.fsm.get(name);
        if (value === undefined) throw new HttpError(404, 'key not found');
        request.res.writeHead(200, {
          'Content-Type': 'application/octet-stream',
          'Content-Length': value.byteLength,
        });
        request.res.end(value);
      },
    },
    {
      method: 'PUT',
      path: '/kv/*key',
      label: 'kv',
      async handle(request) {
        const name = key(request, 'write');
        const rawPrev = request.query.get('prev');
        const prev = rawPrev === '' ? null : request.queryBytes('prev');
        context.requireLeader(request);
        const value = await request.body();
        await write(
          request,
          prev === undefined ? { op: 'put', key: name, value } : { op: 'cas', key: name, prev, value },
        );
      },
    },
    {
      method: 'DELETE',
      path: '/kv/*key',
      label: 'kv',
      async handle(request) {
        const name = key(request, 'write');
        // Deleting unconditionally when the client asked for a condition would be silent data
        // loss: until compare-and-delete exists as a command (contract v2), refuse it.
        if (request.query.has('prev')) {
          throw new HttpError(
            400,
            'compare-and-delete (?prev= on DELETE) is not supported yet; nothing was deleted',
          );
        }
        context.requireLeader(request);
        await write(request, { op: 'delete', key: name });
      },
    },
  ];
}
