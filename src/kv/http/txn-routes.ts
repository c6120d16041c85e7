/**
 * `POST /txn`: compares, then one branch of puts and deletes, atomically at one revision. The body
 * is checked by the same parser that decodes the logged `txn` command (commands.ts), so what is
 * accepted here is exactly what every replica will apply.
 */
import { parseTxn } from '../commands.js';
import type { TxnResultBody } from '../contract.js';
import { keyProblem } from '../validate.js';
import { HttpError, sendJson } from './io.js';
import type { RouteContext } from './route-context.js';
import type { Route } from './router.js';

export function txnRoutes(context: RouteContext): Route[] {
  return [
    {
      method: 'POST',
      path: '/txn',
      label: 'txn',
      async handle(request) {
        const command = parseTxn(await request.jsonBody());
        for (const op of [...command.success, ...command.failure]) {
          const problem = keyProblem(op.key, 'write');
          if (problem !== null) throw new HttpError(400, problem);
        }
        context.requireLeader(request);
        const { index, result } = await context.applyCommand(command);
        if (!result.ok && result.reason === 'lease-not-found') {
          throw new HttpError(404, 'lease not found', {}, { lease: String(result.lease), revision: index });
        }
        if (!result.ok || !('succeeded' in result))
          throw new Error(`unexpected txn result ${JSON.stringify(result)}`);
        sendJson(request.res, 200, { succeeded: result.succeeded, revision: index } satisfies TxnResultBody);
      },
    },
  ];
}
