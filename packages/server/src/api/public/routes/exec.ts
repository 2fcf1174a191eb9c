// Exec (spec section 3): the WebSocket exec, the plain HTTP exec, the session list, Go's version
// probe, and the refusal of the control socket that keeps Go and JS SDKs on plain exec.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../errors.js';
import { validName } from '../../../core/names.js';
import type { PortWatchers } from '../../../network/port-watcher.js';
import { bridgeExecSocket, STREAM } from '../exec-bridge.js';
import { execQuery, killQuery, parseDuration, type ExecQuery } from '@burrow/protocol';
import type { WebSocket } from 'ws';
import { normalizeSignal } from '../../../core/exit-codes.js';
import { SANDBOX_USER, type ExecHandle, type SandboxManager } from '../../../core/sandbox-manager.js';
import type { Session, SessionRegistry } from '../../../core/sessions.js';
import { NdjsonStream } from '../../ndjson.js';
import { prepareSessionSocket } from '../session-socket.js';
import { sendPortNotices } from '../port-notices.js';

type Upgrading = FastifyRequest & { exec?: Prepared; attach?: Session };

/** A session as the list and get endpoints show it (spec 3.9). */
function sessionView(s: Session) {
  return {
    id: s.info.id,
    command: s.info.command.join(' '),
    workdir: s.info.workdir,
    created: s.info.created.toISOString(),
    bytes_per_second: 0,
    is_active: s.active,
    last_activity: s.lastActivity.toISOString(),
    tty: s.info.tty,
    exit_code: s.exitCode,
  };
}

type NameParams = { Params: { name: string } };
type SessionParams = { Params: { name: string; id: string } };
type Prepared = { q: ExecQuery; args: string[] };

/** Spec 3.1: with nobody attached a TTY session runs forever, a non-TTY one for 10 s. */
const DEFAULT_RUN_AFTER_DISCONNECT_MS = { tty: 0, plain: 10_000 };
const DEFAULT_TERMINAL = { rows: 24, cols: 80 };

export interface ExecRouteDeps {
  manager: SandboxManager;
  sessions: SessionRegistry;
  ports: PortWatchers;
}

export function execRoutes(deps: ExecRouteDeps): FastifyPluginAsync {
  const { manager, sessions } = deps;

  /** Validates the query and wakes the sandbox before any upgrade, so failures are plain HTTP. */
  const prepare = async (req: FastifyRequest<NameParams>): Promise<Prepared> => {
    validName(req.params.name);
    const q = execQuery.parse(req.query);
    if (q.max_run_after_disconnect !== undefined && parseDuration(q.max_run_after_disconnect) === null) {
      throw new ApiError('invalid_request', `max_run_after_disconnect: '${q.max_run_after_disconnect}' is not a duration like 30s or 5m`);
    }
    const args = argvOf(q);
    manager.assertRoom(await manager.ensureRunning(req.params.name));
    return { q, args };
  };

  const sessionOf = (name: string, id: string) => {
    const session = sessions.get(validName(name), id);
    if (!session) {
      manager.get(name); // an unknown sandbox is reported as such
      throw new ApiError('not_found', `sandbox '${name}' has no session '${id}' (see \`burrow sessions list ${name}\`)`);
    }
    return session;
  };

  /** A new command on an exec socket: a session when TTY or detachable, else a plain bridge. */
  const startOnSocket = (socket: WebSocket, name: string, { q, args }: Prepared) => {
    const after = q.max_run_after_disconnect ? parseDuration(q.max_run_after_disconnect)! : null;
    if (!q.tty && !q.detachable) {
      bridgeExecSocket(socket, manager.exec(name, { args, env: envOf(q), cwd: q.dir }), {
        maxRunAfterDisconnectMs: after ?? DEFAULT_RUN_AFTER_DISCONNECT_MS.plain,
        acceptStdin: q.stdin !== false,
      });
      return;
    }
    const attach = prepareSessionSocket(socket);
    const size = { rows: q.rows ?? DEFAULT_TERMINAL.rows, cols: q.cols ?? DEFAULT_TERMINAL.cols };
    const tty = q.tty === true;
    manager.exec(name, { args, env: envOf(q), cwd: q.dir, tty: tty ? size : undefined }).then(
      (handle) => {
        const session = sessions.add(
          { sandbox: name, command: args, workdir: q.dir ?? SANDBOX_USER.home, tty, ...size },
          handle,
          after ?? (tty ? DEFAULT_RUN_AFTER_DISCONNECT_MS.tty : DEFAULT_RUN_AFTER_DISCONNECT_MS.plain),
        );
        attach(session);
      },
      (e: Error) => socket.close(1011, e.message.slice(0, 120)),
    );
  };

  return async (app) => {
    app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

    app.route<NameParams>({
      method: 'GET',
      url: '/v1/sprites/:name/exec',
      preHandler: async (req) => {
        if (req.headers.upgrade?.toLowerCase() !== 'websocket') return;
        const id = (req.query as { id?: unknown }).id;
        // Go's legacy attach form: /exec?id= (spec 3.8).
        if (typeof id === 'string') (req as Upgrading).attach = sessionOf(req.params.name, id);
        else (req as Upgrading).exec = await prepare(req);
      },
      // Without Upgrade: the session list (spec 3.9); fastify answers Go's HEAD version probe
      // (spec 3.8) from this handler too.
      handler: async (req) => {
        manager.get(validName(req.params.name));
        return { sessions: sessions.list(req.params.name).map(sessionView) };
      },
      wsHandler: (socket, req) => {
        sendPortNotices(socket, deps.ports, manager.get(req.params.name).id);
        const upgrading = req as Upgrading;
        if (upgrading.attach) prepareSessionSocket(socket)(upgrading.attach);
        else startOnSocket(socket, req.params.name, upgrading.exec!);
      },
    });

    app.post<NameParams>('/v1/sprites/:name/exec', async (req, reply) => {
      const { q, args } = await prepare(req);
      if (q.tty) throw new ApiError('invalid_request', 'the HTTP exec has no terminal; use the WebSocket exec for tty');
      const handle = await manager.exec(req.params.name, { args, env: envOf(q), cwd: q.dir });
      streamHttpExec(reply, handle, req.body as NodeJS.ReadableStream | undefined, q.stdin === true);
    });

    app.route<SessionParams>({
      method: 'GET',
      url: '/v1/sprites/:name/exec/:id',
      preHandler: async (req) => {
        const session = sessionOf(req.params.name, req.params.id);
        if (req.headers.upgrade?.toLowerCase() === 'websocket') (req as Upgrading).attach = session;
      },
      handler: async (req) => sessionView(sessionOf(req.params.name, req.params.id)),
      wsHandler: (socket, req) => {
        sendPortNotices(socket, deps.ports, manager.get(req.params.name).id);
        prepareSessionSocket(socket)((req as Upgrading).attach!);
      },
    });

    app.post<SessionParams>('/v1/sprites/:name/exec/:id/kill', async (req, reply) => {
      const session = sessionOf(req.params.name, req.params.id);
      const q = killQuery.parse(req.query);
      if (!session.active) throw new ApiError('gone', `session '${req.params.id}' already ended with exit code ${session.exitCode}`);
      const timeoutMs = q.timeout ? parseDuration(q.timeout) : 10_000;
      if (timeoutMs === null) throw new ApiError('invalid_request', `timeout: '${q.timeout}' is not a duration like 10s`);
      const signal = normalizeSignal(q.signal ?? 'SIGTERM');
      if (!signal) throw new ApiError('invalid_request', `signal: '${q.signal}' is not a signal name`);
      reply.hijack();
      const ndjson = new NdjsonStream(reply.raw);
      await session.handle.signal(signal).catch(() => {});
      ndjson.send({ type: 'signal', signal, message: `sent ${signal} to session ${session.info.id}` });
      let exited = await session.waitForExit(timeoutMs);
      if (!exited) {
        ndjson.send({ type: 'timeout', message: `still running after ${timeoutMs} ms` });
        await session.handle.signal('SIGKILL').catch(() => {});
        exited = await session.waitForExit(5_000);
        ndjson.send({ type: 'killed', signal: 'SIGKILL' });
      } else {
        ndjson.send({ type: 'exited', exit_code: session.exitCode });
      }
      ndjson.end({ type: 'complete', exit_code: session.exitCode });
    });

    // Refusals must happen in a hook: a hook's error is a plain HTTP answer before any upgrade.
    const refuse = (error: () => ApiError) => ({
      preHandler: async () => {
        throw error();
      },
      handler: async () => {},
      wsHandler: () => {},
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
  handle: ExecHandle,
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
  void handle.exited.then(({ exitCode, notice }) => {
    if (notice) res.write(Buffer.concat([Buffer.of(STREAM.stderr), Buffer.from(notice)]));
    res.end(Buffer.of(STREAM.exit, exitCode));
  });
}
