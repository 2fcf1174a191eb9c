// What an API request does, in the terms token caveats speak: one operation and the sandbox (or
// sandbox listing) it touches. The operation comes from the protocol's route table by the matched
// route, never from handler code, so that every route is covered, WebSocket upgrades included; a
// route missing from the table cannot be registered (app.ts checks each one as it is added).
import { routeKey, routeOf, type TokenOp } from '@burrow/protocol';
import type { FastifyRequest } from 'fastify';
import type { RequestScope } from '../../auth/api-tokens.js';

const SANDBOX = '/v1/sprites/:name';

/** Every scope returned must be allowed (a fork reads one sandbox and creates another). */
export function requestScopes(req: FastifyRequest): RequestScope[] {
  const route = req.routeOptions.url ?? '';
  const upgrade = req.headers.upgrade?.toLowerCase() === 'websocket';
  const declared = routeOf(routeKey(req.method, route, upgrade))?.op;
  // Undeclared (an upgrade of a route that has no WebSocket, say): only the unrestricted pass.
  const op: TokenOp = declared === undefined || declared === 'public' ? 'admin' : declared;
  const params = (req.params ?? {}) as Record<string, unknown>;

  if (route === '/v1/sprites') {
    if (op === 'read') {
      const prefix = (req.query as Record<string, unknown> | undefined)?.prefix;
      return [{ op, listPrefix: typeof prefix === 'string' ? prefix : '' }];
    }
    return [{ op, ...nameInBody(req) }];
  }
  if (route === SANDBOX || route.startsWith(`${SANDBOX}/`)) {
    const scope: RequestScope = { op, sandbox: typeof params.name === 'string' ? params.name : '' };
    if (route.endsWith('/fork')) return [scope, { op: 'write', ...nameInBody(req) }];
    return [scope];
  }
  return [{ op }];
}

/** A body without a name is refused by the route's schema; the scope then names no sandbox. */
function nameInBody(req: FastifyRequest): { sandbox?: string } {
  const name = (req.body as Record<string, unknown> | undefined)?.name;
  return typeof name === 'string' ? { sandbox: name } : {};
}
