// The HTTP/WebSocket API: Sprites v1 wire protocol (shared/spec/sprites-api.md) plus burrow's
// extras under the same /v1 tree. Every error leaves as `{"error": code, "message": text}`.
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyError } from 'fastify';
import { ZodError } from 'zod';
import { TokenVerifier } from '../auth/admin-token.js';
import { ApiError } from '../core/errors.js';
import type { Checkpoints } from '../core/checkpoints.js';
import type { SandboxFs } from '../core/sandbox-fs.js';
import type { SandboxManager } from '../core/sandbox-manager.js';
import type { SessionRegistry } from '../core/sessions.js';
import type { ViewContext } from './sprite-view.js';
import { checkpointRoutes } from './routes/checkpoints.js';
import { execRoutes } from './routes/exec.js';
import { fsRoutes } from './routes/fs.js';
import { openapiRoutes } from './routes/openapi.js';
import { spriteRoutes } from './routes/sprites.js';

export const SPRITE_VERSION = '1.0.0';

/** Readable without a token: the API's own description. */
const PUBLIC_PATHS = new Set(['/v1/openapi.json']);

export interface ApiDeps {
  manager: SandboxManager;
  checkpoints: Checkpoints;
  fs: SandboxFs;
  sessions: SessionRegistry;
  adminToken: string;
  defaults: { runtime: 'gvisor' | 'runc'; image: 'minimal' | 'dev'; cpus: number; ramMb: number; storageGb: number };
  view: ViewContext;
}

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 1 << 20 });
  const verifier = new TokenVerifier(deps.adminToken);

  await app.register(websocket, { options: { maxPayload: 16 << 20 } });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('Sprite-Version', SPRITE_VERSION);
    if (PUBLIC_PATHS.has(req.url.split('?')[0]!)) return;
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match || !verifier.verify(match[1]!)) {
      const why = match ? 'the token is not valid' : 'send `Authorization: Bearer <token>`';
      throw new ApiError('unauthorized', `${why} (the admin token is in $BURROW_HOME/admin.token)`);
    }
  });

  app.setErrorHandler((err: FastifyError | ApiError | ZodError, _req, reply) => {
    const { status, body } = toErrorBody(err);
    void reply.code(status).type('application/json').send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: 'not_found', message: `no such endpoint: ${req.method} ${req.url.split('?')[0]}` });
  });

  await app.register(spriteRoutes(deps));
  await app.register(execRoutes(deps));
  await app.register(fsRoutes(deps));
  await app.register(checkpointRoutes(deps));
  await app.register(openapiRoutes());
  return app;
}

function toErrorBody(err: FastifyError | ApiError | ZodError): { status: number; body: { error: string; message: string } } {
  if (err instanceof ApiError) return { status: err.status, body: { error: err.code, message: err.message } };
  if (err instanceof ZodError) {
    const unknown = err.issues.find((i) => i.code === 'unrecognized_keys');
    const first = err.issues[0];
    const where = first && first.path.length ? `${first.path.join('.')}: ` : '';
    return {
      status: 400,
      body: {
        error: unknown ? 'unknown_field' : 'invalid_request',
        message: `${where}${first?.message ?? 'invalid request'}`,
      },
    };
  }
  const status = err.statusCode ?? 500;
  if (status === 413) return { status, body: { error: 'payload_too_large', message: err.message } };
  if (status >= 400 && status < 500) {
    const message = err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'send the body as application/json' : err.message;
    return { status: 400, body: { error: 'invalid_request', message } };
  }
  return { status: 500, body: { error: 'internal', message: `internal error: ${err.message}` } };
}
