// What an API request does, in the terms token caveats speak: one operation and the sandbox (or
// sandbox listing) it touches. The operation comes from ROUTE_OPS by the matched route, never
// from handler code, so that every route is covered, WebSocket upgrades included; a route missing
// from the table cannot be registered (app.ts checks each one as it is added).
import type { FastifyRequest } from 'fastify';
import type { TokenOp } from '@burrow/sdk';
import type { RequestScope } from '../auth/api-tokens.js';

/** Routes anyone may call: the API's description and the dashboard's assets and login. */
export type RouteOp = TokenOp | 'public';

/**
 * The op every route needs, keyed `METHOD path` as fastify registers the route; `WS` is a GET
 * upgraded to a WebSocket. Whatever makes code run inside a sandbox (exec, sessions, services
 * that start, a port reached from outside) is `exec`; `write` changes records and files but
 * starts nothing. Egress policy, secret grants and resource limits widen what a sandbox can
 * reach or use: `admin`, not the sandbox's own to change.
 */
export const ROUTE_OPS = {
  'GET /v1/sprites': 'read',
  'POST /v1/sprites': 'write',
  'GET /v1/sprites/:name': 'read',
  'PUT /v1/sprites/:name': 'write',
  'DELETE /v1/sprites/:name': 'write',
  'POST /v1/sprites/:name/sleep': 'write',
  'POST /v1/sprites/:name/wake': 'write',
  // A restart ends every process and starts the sandbox's own programs again.
  'POST /v1/sprites/:name/restart': 'exec',
  'POST /v1/sprites/:name/kill': 'exec',
  'GET /v1/sprites/:name/check': 'read',
  'GET /v1/sprites/:name/events': 'read',
  'GET /v1/sprites/:name/usage': 'read',

  'GET /v1/sprites/:name/exec': 'read',
  'WS /v1/sprites/:name/exec': 'exec',
  'POST /v1/sprites/:name/exec': 'exec',
  'GET /v1/sprites/:name/exec/:id': 'read',
  'WS /v1/sprites/:name/exec/:id': 'exec',
  'POST /v1/sprites/:name/exec/:id/kill': 'exec',
  'GET /v1/sprites/:name/control': 'exec',
  'WS /v1/sprites/:name/control': 'exec',

  'GET /v1/sprites/:name/services': 'read',
  'GET /v1/sprites/:name/services/:svc': 'read',
  'GET /v1/sprites/:name/services/:svc/logs': 'read',
  'PUT /v1/sprites/:name/services/:svc': 'exec',
  'POST /v1/sprites/:name/services/:svc/start': 'exec',
  'POST /v1/sprites/:name/services/:svc/restart': 'exec',
  'POST /v1/sprites/:name/services/:svc/stop': 'write',
  'DELETE /v1/sprites/:name/services/:svc': 'write',
  'POST /v1/sprites/:name/services/signal': 'write',

  'GET /v1/sprites/:name/fs/read': 'read',
  'GET /v1/sprites/:name/fs/list': 'read',
  'GET /v1/sprites/:name/fs/watch': 'read',
  'WS /v1/sprites/:name/fs/watch': 'read',
  'PUT /v1/sprites/:name/fs/write': 'write',
  'DELETE /v1/sprites/:name/fs/delete': 'write',
  'POST /v1/sprites/:name/fs/rename': 'write',
  'POST /v1/sprites/:name/fs/copy': 'write',
  'POST /v1/sprites/:name/fs/chmod': 'write',
  'POST /v1/sprites/:name/fs/chown': 'write',

  'POST /v1/sprites/:name/checkpoint': 'checkpoint',
  'GET /v1/sprites/:name/checkpoints': 'read',
  'GET /v1/sprites/:name/checkpoints/:id': 'read',
  'POST /v1/sprites/:name/checkpoints/:id/restore': 'checkpoint',
  'DELETE /v1/sprites/:name/checkpoints/:id': 'checkpoint',
  'POST /v1/sprites/:name/checkpoints/:id/fork': 'checkpoint',

  'GET /v1/sprites/:name/proxy': 'exec',
  'WS /v1/sprites/:name/proxy': 'exec',
  'GET /v1/sprites/:name/ports/watch': 'read',
  'WS /v1/sprites/:name/ports/watch': 'exec',
  // A login link opens the sandbox's URL like a Bearer token with `exec` does (serve.ts).
  'POST /v1/sprites/:name/url/login': 'exec',

  'GET /v1/sprites/:name/policy/network': 'read',
  'POST /v1/sprites/:name/policy/network': 'admin',
  'GET /v1/sprites/:name/policy/resources': 'read',
  'POST /v1/sprites/:name/policy/resources': 'admin',
  'DELETE /v1/sprites/:name/policy/resources': 'admin',
  'GET /v1/sprites/:name/policy/privileges': 'read',
  'POST /v1/sprites/:name/policy/privileges': 'admin',
  'DELETE /v1/sprites/:name/policy/privileges': 'admin',

  'POST /v1/tokens': 'admin',
  'GET /v1/tokens': 'admin',
  'DELETE /v1/tokens/:id': 'admin',
  'POST /v1/secrets': 'admin',
  'GET /v1/secrets': 'admin',
  'GET /v1/secrets/:name': 'admin',
  'DELETE /v1/secrets/:name': 'admin',
  'POST /v1/secrets/:name/grants': 'admin',
  'DELETE /v1/secrets/:name/grants/:sandbox': 'admin',
  'GET /v1/egress/log': 'admin',
  'GET /v1/egress/tokenizer-key': 'admin',
  'GET /v1/egress/ca.crt': 'admin',
  'GET /v1/usage': 'read',
  'GET /metrics': 'read',

  'GET /v1/openapi.json': 'public',
  'GET /': 'public',
  'GET /index.html': 'public',
  'GET /assets/*': 'public',
  'GET /favicon.svg': 'public',
  'POST /v1/dashboard/login': 'public',
  'POST /v1/dashboard/logout': 'public',
} as const satisfies Record<string, RouteOp>;

const SANDBOX = '/v1/sprites/:name';

/** The key of a route in ROUTE_OPS; HEAD is answered by the GET route. */
export function routeKey(method: string, url: string, websocket: boolean): string {
  const m = method.toUpperCase();
  return `${websocket ? 'WS' : m === 'HEAD' ? 'GET' : m} ${url}`;
}

export function routeOp(key: string): RouteOp | undefined {
  return Object.hasOwn(ROUTE_OPS, key) ? ROUTE_OPS[key as keyof typeof ROUTE_OPS] : undefined;
}

/** Every scope returned must be allowed (a fork reads one sandbox and creates another). */
export function requestScopes(req: FastifyRequest): RequestScope[] {
  const route = req.routeOptions.url ?? '';
  const upgrade = req.headers.upgrade?.toLowerCase() === 'websocket';
  const declared = routeOp(routeKey(req.method, route, upgrade));
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
