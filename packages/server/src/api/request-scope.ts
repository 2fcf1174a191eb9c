// What an API request does, in the terms token caveats speak: one operation and the sandbox (or
// sandbox listing) it touches. Derived from the matched route, never from handler code, so that
// every route is covered, including WebSocket upgrades and routes added later.
import type { FastifyRequest } from 'fastify';
import type { RequestScope } from '../auth/api-tokens.js';

const SANDBOX = '/v1/sprites/:name';

/** Every scope returned must be allowed (a fork reads one sandbox and creates another). */
export function requestScopes(req: FastifyRequest): RequestScope[] {
  const route = req.routeOptions.url ?? '';
  const method = req.method.toUpperCase();
  const reads = method === 'GET' || method === 'HEAD';
  const params = (req.params ?? {}) as Record<string, unknown>;
  const upgrade = req.headers.upgrade?.toLowerCase() === 'websocket';

  if (route === '/v1/sprites') {
    if (reads) {
      const prefix = (req.query as Record<string, unknown> | undefined)?.prefix;
      return [{ op: 'read', listPrefix: typeof prefix === 'string' ? prefix : '' }];
    }
    return [{ op: 'write', ...nameInBody(req) }];
  }
  if (route === SANDBOX || route.startsWith(`${SANDBOX}/`)) {
    const sandbox = typeof params.name === 'string' ? params.name : '';
    const rest = route.slice(SANDBOX.length);
    const scope: RequestScope = { op: sandboxOp(rest, reads, upgrade), sandbox };
    if (rest.endsWith('/fork')) return [scope, { op: 'write', ...nameInBody(req) }];
    return [scope];
  }
  // Tokens, secrets and anything else outside one sandbox's tree.
  const privileged = ['/v1/tokens', '/v1/secrets', '/v1/egress'].some((p) => route.startsWith(p));
  return [{ op: reads && !privileged ? 'read' : 'admin' }];
}

/** A body without a name is refused by the route's schema; the scope then names no sandbox. */
function nameInBody(req: FastifyRequest): { sandbox?: string } {
  const name = (req.body as Record<string, unknown> | undefined)?.name;
  return typeof name === 'string' ? { sandbox: name } : {};
}

function sandboxOp(rest: string, reads: boolean, upgrade: boolean): RequestScope['op'] {
  const first = rest.split('/')[1] ?? '';
  if (first === 'exec' || first === 'control') return reads && !upgrade ? 'read' : 'exec';
  if (first === 'checkpoint' || first === 'checkpoints') return reads ? 'read' : 'checkpoint';
  // Egress policy and secret grants widen what the sandbox can reach: not the sandbox's own to change.
  if (first === 'policy' || first === 'secrets') return reads ? 'read' : 'admin';
  if (first === 'fs') return reads ? 'read' : 'write';
  // A restart ends every process and starts the sandbox's own programs again.
  if (first === 'restart') return 'exec';
  // Any other WebSocket (a port proxy, say) reaches into the running sandbox.
  if (upgrade) return 'exec';
  return reads ? 'read' : 'write';
}
