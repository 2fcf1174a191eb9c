// Exec (spec section 3): the WebSocket exec, the plain HTTP exec, the session list, Go's version
// probe, and the refusal of the control socket that keeps Go and JS SDKs on plain exec.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.js';
import { nameProblem } from '../../core/names.js';
import type { SandboxProcessHandle } from '../../runtime/agent.js';
import type { ApiDeps } from '../app.js';
import { bridgeExecSocket, STREAM } from '../exec-bridge.js';
import { exitCodeOf } from '../process-signals.js';
import { execQuery, parseDuration, type ExecQuery } from '../schemas.js';

type NameParams = { Params: { name: string } };

/** Spec 3.1: a non-TTY process outlives its client by 10 s unless asked otherwise. */
const DEFAULT_RUN_AFTER_DISCONNECT_MS = 10_000;

export function execRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { manager } = deps;

  /** Validates the query and wakes the sandbox before any upgrade, so failures are plain HTTP. */
  const prepare = async (req: FastifyRequest<NameParams>) => {
    const problem = nameProblem(req.params.name);
    if (problem) throw new ApiError('invalid_name', problem);
    const q = execQuery.parse(req.query);
    const args = argvOf(q);
    if (q.tty) throw new ApiError('invalid_request', 'TTY exec is not supported by this server yet; run without tty');
    await manager.ensureRunning(req.params.name);
    return { q, args };
  };

  return async (app) => {
    app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

    app.route<NameParams>({
      method: 'GET',
      url: '/v1/sprites/:name/exec',
      preHandler: async (req) => {
        if (req.headers.upgrade?.toLowerCase() === 'websocket') {
          (req as FastifyRequest & { exec?: unknown }).exec = await prepare(req);
        }
      },
      // Without Upgrade: the session list (spec 3.9); fastify answers Go's HEAD version probe
      // (spec 3.8) from this handler too.
      handler: async (req) => {
        manager.get(req.params.name);
        return { sessions: [] };
      },
      wsHandler: (socket, req) => {
        const { q, args } = (req as FastifyRequest & { exec: { q: ExecQuery; args: string[] } }).exec;
        const after = q.max_run_after_disconnect ? parseDuration(q.max_run_after_disconnect) : null;
        bridgeExecSocket(socket, manager.exec(req.params.name, { args, env: envOf(q), cwd: q.dir }), {
          maxRunAfterDisconnectMs: after ?? DEFAULT_RUN_AFTER_DISCONNECT_MS,
          acceptStdin: q.stdin !== false,
        });
      },
    });

    app.post<NameParams>('/v1/sprites/:name/exec', async (req, reply) => {
      const { q, args } = await prepare(req);
      const handle = await manager.exec(req.params.name, { args, env: envOf(q), cwd: q.dir });
      streamHttpExec(reply, handle, req.body as NodeJS.ReadableStream | undefined, q.stdin === true);
    });

    // Refusals must happen in a hook: a hook's error is a plain HTTP answer before any upgrade.
    const refuse = (error: () => ApiError) => ({
      preHandler: async () => {
        throw error();
      },
      handler: async () => {},
      wsHandler: () => {},
    });

    app.route({
      method: 'GET',
      url: '/v1/sprites/:name/exec/:id',
      ...refuse(() => new ApiError('not_found', 'no such session: detachable sessions are not supported by this server yet')),
    });

    // Spec section 4: servers without the control protocol MUST refuse it with 404.
    app.route({
      method: 'GET',
      url: '/v1/sprites/:name/control',
      ...refuse(() => new ApiError('not_found', 'this server has no control socket; use /exec')),
    });
  };
}

function argvOf(q: ExecQuery): string[] {
  const argv = q.cmd.length ? [...q.cmd] : [q.path ?? 'bash'];
  if (q.path) argv[0] = q.path;
  if (argv.some((a) => a.includes('\0'))) throw new ApiError('invalid_request', 'cmd must not contain NUL bytes');
  return argv;
}

function envOf(q: ExecQuery): Record<string, string> | undefined {
  if (!q.env.length) return undefined;
  return Object.fromEntries(q.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

/**
 * Spec 3.11: each frame (type byte + payload, no length) is its own HTTP chunk. Output is
 * written with backpressure; the exit frame comes last.
 */
function streamHttpExec(
  reply: FastifyReply,
  handle: SandboxProcessHandle,
  body: NodeJS.ReadableStream | undefined,
  withStdin: boolean,
): void {
  const { child } = handle;
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Sprite-Version': '1.0.0' });
  child.stdin.on('error', () => {});
  if (body && withStdin) body.pipe(child.stdin);
  else child.stdin.end();
  const forward = (stream: NodeJS.ReadableStream, id: number) =>
    stream.on('data', (chunk: Buffer) => {
      if (!res.write(Buffer.concat([Buffer.of(id), chunk]))) {
        stream.pause();
        res.once('drain', () => stream.resume());
      }
    });
  forward(child.stdout, STREAM.stdout);
  forward(child.stderr, STREAM.stderr);
  // A client that goes away takes its command with it (spec 3.11 has no detached HTTP exec).
  res.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) void handle.signal('SIGKILL').catch(() => {});
  });
  child.on('close', (code, signal) => {
    res.end(Buffer.of(STREAM.exit, exitCodeOf(code, signal)));
  });
}
