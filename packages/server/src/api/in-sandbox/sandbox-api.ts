// The in-sandbox API: what a program inside a sandbox may ask of burrow without a token. Each
// sandbox gets its own unix socket, on the host at <sandbox dir>/api/api.sock, bind-mounted
// into that sandbox only, at /.burrow/api/api.sock (gVisor reaches it through --host-uds=open).
// Who is calling is which socket accepted the connection: nothing the caller sends can name
// another sandbox. One HTTP app serves every socket; the accepting listener tags the connection.
import { chmod, mkdir, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Activity } from '../../core/activity.js';
import type { Checkpoints } from '../../core/checkpoints.js';
import { ApiError, toErrorBody } from '../errors.js';
import type { SandboxHooks } from '../../core/sandbox-hooks.js';
import type { SandboxManager } from '../../core/sandbox-manager.js';
import type { Services } from '../../core/services.js';
import type { Tasks } from '../../core/tasks.js';
import { packageFile } from '../../util/package-files.js';
import { inSandboxRoutes } from './routes.js';
import { serviceRoutes } from '../service-routes.js';

export const API_DIR_INSIDE = '/.burrow/api';
export const SOCKET_NAME = 'api.sock';

export interface SandboxApiDeps {
  manager: SandboxManager;
  tasks: Tasks;
  checkpoints: Checkpoints;
  services: Services;
  activity: Activity;
  /** The host directory of a sandbox (its socket goes in `api/` under it). */
  hostDirOf(sandboxId: string): string;
  log: (line: string) => void;
}

export class SandboxApi {
  private readonly listeners = new Map<string, Server>();
  /** The sandbox id each accepted connection came in for. */
  private readonly callers = new WeakMap<Socket, string>();
  private app: FastifyInstance | undefined;

  constructor(private readonly deps: SandboxApiDeps) {}

  /** Builds the app and listens for every sandbox that exists. */
  async start(): Promise<void> {
    const app = Fastify({ logger: false, bodyLimit: 1 << 20 });
    app.setErrorHandler((err, _req, reply) => {
      const { status, body } = toErrorBody(err as Parameters<typeof toErrorBody>[0]);
      void reply.code(status).type('application/json').send(body);
    });
    app.setNotFoundHandler((req, reply) => {
      void reply.code(404).send({ error: 'not_found', message: `no such endpoint: ${req.method} ${req.url.split('?')[0]} (see /.burrow/llm.txt)` });
    });
    app.addHook('onRequest', async (req, reply) => {
      const release = this.deps.activity.hold(this.caller(req).name);
      reply.raw.once('close', release);
    });
    await app.register(inSandboxRoutes({ tasks: this.deps.tasks, checkpoints: this.deps.checkpoints, caller: (req) => this.caller(req) }));
    await app.register(serviceRoutes(this.deps.services, { prefix: '/v1', sandboxOf: (req) => this.caller(req).name }));
    await app.ready();
    this.app = app;
    for (const record of this.deps.manager.list()) {
      if (record.status !== 'creating' && record.status !== 'destroying') await this.listen(record.id);
    }
  }

  hooks(): SandboxHooks {
    return {
      diskCreated: async () => {},
      bootMounts: async (record) => {
        await this.listen(record.id);
        return {
          [API_DIR_INSIDE]: this.dirOf(record.id),
          '/.burrow/llm.txt': packageFile('sandbox-tools/llm.txt'),
          '/usr/local/bin/burrow-env': packageFile('sandbox-tools/burrow-env'),
        };
      },
      tornDown: (sandboxId) => this.unlisten(sandboxId),
    };
  }

  async close(): Promise<void> {
    for (const server of this.listeners.values()) server.close();
    this.listeners.clear();
    await this.app?.close();
  }

  private caller(req: FastifyRequest): { id: string; name: string } {
    const id = this.callers.get(req.raw.socket);
    const record = id === undefined ? undefined : this.deps.manager.byId(id);
    if (!record) throw new ApiError('forbidden', 'this connection belongs to no sandbox');
    return { id: record.id, name: record.name };
  }

  private dirOf(sandboxId: string): string {
    return join(this.deps.hostDirOf(sandboxId), 'api');
  }

  /** Listens on the sandbox's socket (once); a stale socket file of an earlier daemon is replaced. */
  private async listen(sandboxId: string): Promise<void> {
    if (this.listeners.has(sandboxId) || !this.app) return;
    const dir = this.dirOf(sandboxId);
    const path = join(dir, SOCKET_NAME);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await rm(path, { force: true });
    const app = this.app;
    const server = createServer((socket) => {
      this.callers.set(socket, sandboxId);
      app.server.emit('connection', socket);
    });
    this.listeners.set(sandboxId, server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    server.on('error', (e) => this.deps.log(`in-sandbox API of ${sandboxId}: ${e.message}`));
    // The sandbox user connects too; which socket it is, not who connects, is the identity.
    await chmod(path, 0o666);
  }

  private async unlisten(sandboxId: string): Promise<void> {
    const server = this.listeners.get(sandboxId);
    this.listeners.delete(sandboxId);
    server?.close();
    await rm(this.dirOf(sandboxId), { recursive: true, force: true });
  }
}
