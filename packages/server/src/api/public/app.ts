// The HTTP/WebSocket API: Sprites v1 wire protocol (shared/spec/sprites-api.md) plus burrow's
// extras under the same /v1 tree. Every error leaves as `{"error": code, "message": text}`.
import { EventEmitter } from 'node:events';
import { createServer, maxHeaderSize, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { routeKey, routeOf } from '@burrow/protocol';
import type { ZodError } from 'zod';
import { TokenRefused, type Bearer, type TokenAuthority } from '../../auth/api-tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated token (caveats judged in preHandler); null on public paths. */
    bearer: Bearer | null;
    /** That token as presented (header or dashboard session), for what acts with it later: URL login links. */
    token: string | null;
  }
  interface FastifyInstance {
    /** Every route registered, as its key in the route table (`GET /v1/sprites`, `WS .../exec`). */
    routeKeys: Set<string>;
  }
}
import { ApiError, toErrorBody } from '../errors.js';
import type { Activity } from '../../core/activity.js';
import type { Privileges } from '../../core/privileges.js';
import type { EgressPolicies } from '../../core/egress-policies.js';
import type { Metrics } from '../../core/metrics.js';
import { validName } from '../../core/names.js';
import type { Services } from '../../core/services.js';
import type { DashboardAssets } from './dashboard-assets.js';
import type { ViewContext } from './sprite-view.js';
import { bearerToken } from '../burrow-credentials.js';
import { assertSameSite, type DashboardLogins } from './dashboard-auth.js';
import { checkpointRoutes, type CheckpointRouteDeps } from './routes/checkpoints.js';
import { eventRoutes, type EventRouteDeps } from './routes/events.js';
import { imageArchiveRoutes, type ImageArchiveDeps } from './routes/image-archives.js';
import { metricsRoutes } from './routes/metrics.js';
import { resourceRoutes, type ResourceRouteDeps } from './routes/resources.js';
import { usageRoutes, type UsageRouteDeps } from './routes/usage.js';
import { execRoutes, type ExecRouteDeps } from './routes/exec.js';
import { fsRoutes, type FsRouteDeps } from './routes/fs.js';
import { dashboardRoutes, isDashboardPublic } from './routes/dashboard.js';
import { serviceRoutes } from '../service-routes.js';
import { openapiRoutes } from './routes/openapi.js';
import { policyRoutes } from './routes/policy.js';
import { privilegesRoutes } from './routes/privileges.js';
import { portRoutes, type PortRouteDeps } from './routes/ports.js';
import { proxyRoutes, type ProxyRouteDeps } from './routes/proxy.js';
import { urlRoutes, type UrlRouteDeps } from './routes/urls.js';
import type { SandboxUrls } from '../urls/sandbox-urls.js';
import { relayInFrontOf, type HttpConnectionRelay } from '../urls/http-connection-relay.js';
import { spriteRoutes, type SpriteRouteDeps } from './routes/sprites.js';
import { secretRoutes, type SecretRouteDeps } from './routes/secrets.js';
import { tokenRoutes } from './routes/tokens.js';
import { requestScopes } from './request-scope.js';
import { TOKEN_END_CLOSE_CODE, TokenBoundConnections } from './token-bound-connections.js';

export const SPRITE_VERSION = '1.0.0';

/** Readable without a token: the API's own description. */
const PUBLIC_PATHS = new Set(['/v1/openapi.json']);

type RouteDeps = SpriteRouteDeps &
  ExecRouteDeps &
  FsRouteDeps &
  CheckpointRouteDeps &
  EventRouteDeps &
  UsageRouteDeps &
  ResourceRouteDeps &
  PortRouteDeps &
  ProxyRouteDeps &
  UrlRouteDeps;

/**
 * What the public API is built from: each route group's own slice (declared beside its
 * handlers), and what the listener itself uses around them.
 */
export type ApiDeps = Omit<RouteDeps, 'view'> & {
  /** How a sandbox is shown, but for its URL: the listener knows its own port. */
  view: Omit<ViewContext, 'urlFor'>;
  /** Sandbox URLs are `http://<name>.<urlDomain>:<this listener's port>`. */
  urlDomain: string;
  /** Export and import of sandboxes as OCI images. */
  imageArchives: Omit<ImageArchiveDeps, 'view' | 'logError'>;
  tokens: TokenAuthority;
  egress: EgressPolicies;
  urls: SandboxUrls;
  activity: Activity;
  services: Services;
  metrics: Metrics;
  privileges: Privileges;
  secrets: SecretRouteDeps;
  dashboard: DashboardAssets;
  dashboardLogins: DashboardLogins;
  /** Server-side failures (5xx) go to the daemon's log with the route and the stack. */
  logError?: (message: string, detail: Record<string, unknown>) => void;
  /** A foreign protocol served on the same listener (the E2B API), asked first for each request. */
  foreign?: ForeignProtocol;
};

export interface ForeignProtocol {
  claims(req: IncomingMessage): boolean;
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Ends its long-lived responses (streams): the server's close waits for every connection. */
  close(): void;
}

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  // Requests whose Host names a sandbox go to its URL (sandbox-urls.ts), never to the routes;
  // WebSocket upgrades likewise, so the websocket plugin listens on `apiUpgrades` instead.
  const apiUpgrades = new EventEmitter();
  let relay: HttpConnectionRelay | undefined;
  const app = Fastify({
    logger: false,
    bodyLimit: 1 << 20,
    clientErrorHandler: answerClientError,
    serverFactory: (handler) => {
      const server = createServer((req, res) => {
        const sandbox = deps.urls.addressOf(req);
        // A sandbox's URL serves the sandbox's app whatever the path: only the API's host speaks E2B.
        if (sandbox === undefined && deps.foreign?.claims(req)) return deps.foreign.handle(req, res);
        if (sandbox === undefined) return handler(req, res);
        deps.urls.handle(req, res, sandbox).catch(() => res.destroy());
      });
      server.on('upgrade', (req, socket, head) => {
        const sandbox = deps.urls.addressOf(req);
        if (sandbox === undefined) return void apiUpgrades.emit('upgrade', req, socket, head);
        deps.urls.upgrade(req, socket, head, sandbox).catch(() => socket.destroy());
      });
      // Connections whose requests go straight to a running sandbox skip the HTTP server.
      relay = relayInFrontOf(server, (head, client) => deps.urls.route(head, client));
      return server;
    },
  });
  // The HTTP server's close waits for every connection: relayed ones end when it begins.
  app.addHook('preClose', async () => {
    relay?.closeAll();
    deps.foreign?.close();
  });
  const routeDeps: RouteDeps & ApiDeps = {
    ...deps,
    view: { ...deps.view, urlFor: (name) => `http://${name}.${deps.urlDomain}:${listeningPort(app.server)}` },
  };
  app.decorateRequest('bearer', null);
  app.decorateRequest('token', null);
  const isPublic = (path: string) => PUBLIC_PATHS.has(path) || isDashboardPublic(deps.dashboard, path);

  await app.register(websocket, { options: { maxPayload: 16 << 20, server: apiUpgrades as never } });
  declareEveryRoute(app);
  const holdUntilTokenEnds = tokenBoundConnections(app, deps.tokens);

  // Authentication first, before any body is read; the caveats are judged once the route has
  // matched and the body is parsed (a create names its sandbox in the body). Both hooks run
  // for WebSocket upgrades too, and a hook's error is a plain HTTP answer before any upgrade.
  app.addHook('onRequest', async (req, reply) => {
    reply.header('Sprite-Version', SPRITE_VERSION);
    const path = req.url.split('?')[0]!;
    if (isPublic(path)) return;
    const header = req.headers.authorization;
    // The dashboard's cookie counts only when no Authorization header is sent at all.
    const token = header === undefined ? deps.dashboardLogins.tokenOf(req) : bearerToken(header);
    if (token === undefined) {
      throw new ApiError('unauthorized', 'send `Authorization: Bearer <token>` (the admin token is in $BURROW_HOME/admin.token)');
    }
    if (header === undefined) assertSameSite(req);
    try {
      req.bearer = deps.tokens.authenticate(token);
      req.token = token;
    } catch (e) {
      if (e instanceof TokenRefused) throw new ApiError('unauthorized', e.message);
      throw e;
    }
  });
  app.addHook('preHandler', async (req, reply) => {
    const bearer = req.bearer;
    if (!bearer) {
      if (isPublic(req.url.split('?')[0]!)) return;
      throw new ApiError('unauthorized', 'send `Authorization: Bearer <token>`');
    }
    try {
      for (const scope of requestScopes(req)) deps.tokens.authorize(bearer, scope);
    } catch (e) {
      if (e instanceof TokenRefused) throw new ApiError('forbidden', e.message);
      throw e;
    }
    holdUntilTokenEnds(req, reply, bearer);
  });

  // Latency by route pattern (never the concrete path: names would explode the label set).
  // WebSocket routes are counted until the upgrade is answered, not for the session's life.
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    deps.metrics.apiRequest(req.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });
  holdWhileInFlight(app, deps);

  app.setErrorHandler((err: FastifyError | ApiError | ZodError, req, reply) => {
    const { status, body } = toErrorBody(err);
    deps.metrics.apiError(body.error);
    if (status >= 500) {
      deps.logError?.(body.message, { code: body.error, method: req.method, route: req.routeOptions.url, stack: err.stack });
    }
    if (status === 429 && typeof body.retry_after_seconds === 'number') reply.header('Retry-After', String(body.retry_after_seconds));
    void reply.code(status).type('application/json').send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    deps.metrics.apiError('not_found');
    void reply.code(404).send({ error: 'not_found', message: `no such endpoint: ${req.method} ${req.url.split('?')[0]}` });
  });

  await app.register(spriteRoutes(routeDeps));
  await app.register(execRoutes(routeDeps));
  await app.register(fsRoutes(routeDeps));
  await app.register(checkpointRoutes(routeDeps));
  await app.register(imageArchiveRoutes({ ...deps.imageArchives, view: routeDeps.view, logError: (message) => deps.logError?.(message, {}) }));
  await app.register(
    serviceRoutes(deps.services, {
      prefix: '/v1/sprites/:name',
      sandboxOf: (req) => validName((req.params as { name: string }).name),
    }),
  );
  await app.register(tokenRoutes(routeDeps));
  await app.register(policyRoutes(routeDeps));
  await app.register(urlRoutes(routeDeps));
  await app.register(proxyRoutes(routeDeps));
  await app.register(portRoutes(routeDeps));
  await app.register(eventRoutes(routeDeps));
  await app.register(usageRoutes(routeDeps));
  await app.register(resourceRoutes(routeDeps));
  await app.register(privilegesRoutes(deps.privileges));
  await app.register(metricsRoutes(routeDeps));
  await app.register(secretRoutes(routeDeps));
  await app.register(openapiRoutes());
  await app.register(dashboardRoutes({ assets: deps.dashboard, logins: deps.dashboardLogins, refusal: (token) => refusal(deps.tokens, token) }));
  return app;
}

function listeningPort(server: Server): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/**
 * WebSockets close (1008, "token revoked" / "token expired") and streaming responses are cut
 * when the token that opened them is revoked or expires. A response not streaming yet is left
 * to finish: it is the answer to a request the token was allowed to make (the revocation of
 * the token itself, say).
 */
function tokenBoundConnections(app: FastifyInstance, tokens: TokenAuthority) {
  const connections = new TokenBoundConnections(tokens);
  const upgrading = new WeakMap<IncomingMessage, Bearer>();
  app.websocketServer.on('connection', (socket: WebSocket, raw: IncomingMessage) => {
    const bearer = upgrading.get(raw);
    if (!bearer) return;
    upgrading.delete(raw);
    const release = connections.hold(bearer, (why) => socket.close(TOKEN_END_CLOSE_CODE, why));
    socket.once('close', release);
  });
  return (req: FastifyRequest, reply: FastifyReply, bearer: Bearer) => {
    if (req.ws) return void upgrading.set(req.raw, bearer);
    const release = connections.hold(bearer, () => {
      if (reply.raw.headersSent) reply.raw.destroy();
    });
    reply.raw.once('close', release);
  };
}

/** A route the protocol's table does not declare is a startup error, not a hole in the token checks. */
export function declareEveryRoute(app: FastifyInstance): void {
  app.decorate('routeKeys', new Set<string>());
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const keys = [routeKey(method, route.url, false)];
      if (route.wsHandler && method.toUpperCase() === 'GET') keys.push(routeKey(method, route.url, true));
      for (const key of keys) {
        if (routeOf(key) === undefined) throw new Error(`route ${key} is not in the route table (@burrow/protocol routes.ts)`);
        app.routeKeys.add(key);
      }
    }
  });
}

/**
 * Every request on a sandbox's own resources (exec, console, fs, checkpoints, services, proxy)
 * keeps it awake until the response ends or the WebSocket closes. Reading the sandbox's record
 * (`GET /v1/sprites/{name}`, the list) or its health check does not: watching a sandbox must
 * not stop it sleeping.
 */
function holdWhileInFlight(app: FastifyInstance, deps: ApiDeps): void {
  app.addHook('onRequest', async (req, reply) => {
    const m = /^\/v1\/sprites\/([^/?]+)\/([^?]*)/.exec(req.url);
    if (!m || !m[2] || m[2] === 'check') return; // a health check reads, like the record
    let name: string;
    try {
      name = decodeURIComponent(m[1]!);
    } catch {
      return; // the route rejects the name
    }
    if (!deps.manager.exists(name)) return;
    const release = deps.activity.hold(name);
    if (req.headers.upgrade) req.raw.socket.once('close', release);
    else reply.raw.once('close', release);
  });
}

/**
 * A request the HTTP parser refused before any route saw it (a head over Node's 16 KiB, bytes
 * that are not HTTP) still gets the API's error shape, so clients can say what went wrong.
 */
function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return;
  const [status, body] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, { error: 'headers_too_large', message: `the request's URL and headers are over ${maxHeaderSize >> 10} KiB; an exec's command travels in the URL, so pass long input on stdin or in a file instead` }]
      : [400, { error: 'invalid_request', message: `the request is not valid HTTP (${err.code ?? err.message})` }];
  const json = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
  );
}

function refusal(tokens: TokenAuthority, token: string): string | null {
  try {
    tokens.authenticate(token);
    return null;
  } catch (e) {
    if (e instanceof TokenRefused) return e.message;
    throw e;
  }
}
