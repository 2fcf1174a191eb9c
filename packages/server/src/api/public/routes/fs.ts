// Filesystem (spec section 6): /v1/sprites/{name}/fs/{read,write,list,delete,rename,copy,chmod,
// chown,watch}. Paths are resolved and checked here (NUL bytes, PATH_MAX) and everything else
// happens inside the sandbox (core/sandbox-fs.ts). Errors leave in the fs shape of section 6,
// `{"error": text, "code": errno, "path"}`; sandbox-level errors keep the flat shape of section 1.
import { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { z, ZodError } from 'zod';
import type { FsErrorBody, FsListResponse, FsWatchMessage } from '@burrow/protocol';
import {
  fsPathQuery as pathQuery,
  fsWriteQuery as writeQuery,
  fsListQuery as listQuery,
  fsDeleteQuery as deleteQuery,
  fsRenameBody as renameBody,
  fsCopyBody as copyBody,
  fsChmodBody as chmodBody,
  fsChownBody as chownBody,
  fsWatchSubscribeMessage as subscribeMessage,
} from '@burrow/protocol';
import { validName } from '../../../core/names.js';
import { FsError, sandboxPath, type SandboxFs } from '../../../core/sandbox-fs.js';
import { httpStatusOf } from '../../errors.js';
import type { SandboxManager } from '../../../core/sandbox-manager.js';

type NameParams = { Params: { name: string } };

/** Watch subscriptions per socket: each one is a process in the sandbox. */
const MAX_SUBSCRIPTIONS = 16;
/** Bytes queued in a watch socket before the watcher in the sandbox is paused. */
const WATCH_HIGH_WATER = 1 << 20;
const PING_MS = 30_000;

export interface FsRouteDeps {
  manager: SandboxManager;
  fs: SandboxFs;
}

export function fsRoutes(deps: FsRouteDeps): FastifyPluginAsync {
  const { manager, fs } = deps;
  const base = '/v1/sprites/:name/fs';
  const sandbox = (req: FastifyRequest<NameParams>) => validName(req.params.name);

  return async (app) => {
    // Uploads are streamed into the sandbox as they arrive, whatever their declared type.
    app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

    app.setErrorHandler((err, req, reply) => {
      if (err instanceof FsError) return sendFsError(reply, err);
      if (err instanceof ZodError) return sendFsError(reply, new FsError('EINVAL', zodMessage(err), subjectOf(req)));
      throw err; // sandbox-level errors keep the API's flat shape (app.ts)
    });

    app.get<NameParams>(`${base}/read`, async (req, reply) => {
      const q = pathQuery.parse(req.query);
      const path = sandboxPath(q.path, q.workingDir);
      const body = await fs.read(sandbox(req), path, { asRoot: q.asRoot ?? false });
      return reply.type('application/octet-stream').send(body);
    });

    app.put<NameParams>(`${base}/write`, async (req, reply) => {
      const q = writeQuery.parse(req.query);
      const path = sandboxPath(q.path, q.workingDir);
      const length = Number(req.headers['content-length']);
      try {
        const { bytes } = await fs.write(sandbox(req), path, req.raw, {
          asRoot: q.asRoot ?? false,
          ...(q.mode ? { mode: q.mode } : {}),
          // Without mkdirParents the immediate parent is still created, like `mkdir`: the Sprites
          // SDK's non-recursive mkdir writes `dir/.keep` and relies on it (spec section 6).
          mkdir: q.mkdirParents ? 'parents' : 'parent',
          ...(Number.isSafeInteger(length) && length >= 0 ? { expectedBytes: length } : {}),
        });
        return { path, size: bytes };
      } catch (e) {
        // The rest of a refused upload is not worth reading: answer, then drop the connection.
        if (!req.raw.complete) reply.header('Connection', 'close');
        throw e;
      }
    });

    app.get<NameParams>(`${base}/list`, async (req, reply) => {
      const q = listQuery.parse(req.query);
      if (q.pattern?.includes('\0')) throw new FsError('EINVAL', 'pattern must not contain NUL bytes', q.path);
      const path = sandboxPath(q.path, q.workingDir);
      const listing = await fs.list(sandbox(req), path, {
        asRoot: q.asRoot ?? false,
        recursive: q.recursive ?? false,
        ...(q.pattern ? { pattern: q.pattern } : {}),
      });
      // Streamed: a recursive listing of a big tree never sits whole in daemon memory.
      reply.raw.once('close', () => void listing.close());
      return reply.type('application/json').send(Readable.from(listingBody(path, listing)));
    });

    app.delete<NameParams>(`${base}/delete`, async (req) => {
      const q = deleteQuery.parse(req.query);
      const path = sandboxPath(q.path, q.workingDir);
      await fs.delete(sandbox(req), path, { asRoot: q.asRoot ?? false, recursive: q.recursive ?? false });
      return { path };
    });

    app.post<NameParams>(`${base}/rename`, async (req) => {
      const b = renameBody.parse(req.body ?? {});
      const [source, dest] = [sandboxPath(b.source, b.workingDir), sandboxPath(b.dest, b.workingDir)];
      await fs.rename(sandbox(req), source, dest, { asRoot: b.asRoot ?? false });
      return { source, dest };
    });

    app.post<NameParams>(`${base}/copy`, async (req) => {
      const b = copyBody.parse(req.body ?? {});
      const [source, dest] = [sandboxPath(b.source, b.workingDir), sandboxPath(b.dest, b.workingDir)];
      await fs.copy(sandbox(req), source, dest, {
        asRoot: b.asRoot ?? false,
        recursive: b.recursive ?? false,
        preserveAttrs: b.preserveAttrs ?? false,
      });
      return { source, dest };
    });

    app.post<NameParams>(`${base}/chmod`, async (req) => {
      const b = chmodBody.parse(req.body ?? {});
      const path = sandboxPath(b.path, b.workingDir);
      await fs.chmod(sandbox(req), path, b.mode, { asRoot: b.asRoot ?? false, recursive: b.recursive ?? false });
      return { path };
    });

    app.post<NameParams>(`${base}/chown`, async (req) => {
      const b = chownBody.parse(req.body ?? {});
      const path = sandboxPath(b.path, b.workingDir);
      if (b.uid === undefined && b.gid === undefined) throw new FsError('EINVAL', 'give uid, gid or both', path);
      await fs.chown(
        sandbox(req),
        path,
        { ...(b.uid !== undefined ? { uid: b.uid } : {}), ...(b.gid !== undefined ? { gid: b.gid } : {}) },
        { asRoot: b.asRoot ?? false, recursive: b.recursive ?? false },
      );
      return { path };
    });

    app.route<NameParams>({
      method: 'GET',
      url: `${base}/watch`,
      // Checked before the upgrade, so a bad name or a sandbox that cannot start is a plain
      // HTTP error (spec section 1: never 101 and then close).
      preHandler: async (req) => {
        const name = sandbox(req);
        pathQuery.pick({ asRoot: true }).parse(req.query);
        if (req.headers.upgrade?.toLowerCase() === 'websocket') await manager.ensureRunning(name);
      },
      handler: async (req) => {
        throw new FsError('EINVAL', 'fs/watch is a WebSocket: connect with `Upgrade: websocket`', subjectOf(req));
      },
      wsHandler: (socket, req) => {
        const { asRoot } = pathQuery.pick({ asRoot: true }).parse(req.query);
        serveWatch(socket, fs, req.params.name, asRoot ?? false);
      },
    });
  };
}

function sendFsError(reply: FastifyReply, err: FsError): FastifyReply {
  const body: FsErrorBody = { error: err.message, code: err.code, path: err.path };
  return reply.code(httpStatusOf(err)).type('application/json').send(body);
}

function zodMessage(err: ZodError): string {
  const first = err.issues[0];
  const where = first && first.path.length ? `${first.path.join('.')}: ` : '';
  return `${where}${first?.message ?? 'invalid request'}`;
}

/** The path a request is about, for errors raised before it was parsed. */
function subjectOf(req: FastifyRequest): string {
  for (const source of [req.query, req.body]) {
    if (typeof source !== 'object' || source === null) continue;
    const fields = source as Record<string, unknown>;
    const value = fields.path ?? fields.source;
    if (typeof value === 'string') return value.replace(/\0/g, '\\0').slice(0, 200);
  }
  return '';
}

/** `{"path", "self", "entries": [...], "count"}`, written as the entries arrive. */
async function* listingBody(path: string, listing: Awaited<ReturnType<SandboxFs['list']>>): AsyncGenerator<string> {
  const head: Omit<FsListResponse, 'entries' | 'count'> = { path, self: listing.self };
  yield `${JSON.stringify(head).slice(0, -1)},"entries":[`;
  let count = 0;
  let batch = '';
  for await (const entry of listing.entries) {
    batch += `${count++ ? ',' : ''}${JSON.stringify(entry)}`;
    if (batch.length >= 64 * 1024) {
      yield batch;
      batch = '';
    }
  }
  yield `${batch}],"count":${count}}`;
}

/**
 * One watch socket: each `subscribe` starts a watcher inside the sandbox, whose messages are
 * relayed with backpressure (a slow client pauses the watcher; inotify then reports overflow
 * rather than the daemon buffering). Closing the socket stops every watcher.
 */
function serveWatch(socket: WebSocket, fs: SandboxFs, name: string, asRoot: boolean): void {
  const watchers = new Set<{ close(): Promise<void> }>();
  let subscriptions = 0;
  let closed = false;
  const send = (message: FsWatchMessage): Promise<void> =>
    new Promise((resolve) => {
      if (socket.readyState !== socket.OPEN) return resolve();
      socket.send(JSON.stringify(message), () => resolve());
      if (socket.bufferedAmount < WATCH_HIGH_WATER) resolve();
    });

  const subscribe = async (text: string) => {
    let request: z.infer<typeof subscribeMessage>;
    let paths: string[];
    try {
      request = subscribeMessage.parse(JSON.parse(text));
      paths = request.paths.map((p) => sandboxPath(p, request.workingDir ?? '/'));
    } catch (e) {
      const why = e instanceof ZodError ? zodMessage(e) : (e as Error).message;
      return send({ type: 'error', message: `expected {"type":"subscribe","paths":[...],"recursive":bool,"workingDir":"/"}: ${why}` });
    }
    if (subscriptions >= MAX_SUBSCRIPTIONS) {
      return send({ type: 'error', message: `at most ${MAX_SUBSCRIPTIONS} subscriptions per socket; open another socket` });
    }
    subscriptions++;
    try {
      const watcher = await fs.watch(name, paths, { asRoot, recursive: request.recursive ?? false });
      if (closed) return watcher.close();
      watchers.add(watcher);
      for await (const message of watcher.messages) {
        if (closed) break;
        await send(message);
      }
      watchers.delete(watcher);
    } finally {
      subscriptions--;
    }
  };

  socket.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) return void send({ type: 'error', message: 'send subscribe requests as text JSON' });
    subscribe(data.toString('utf8')).catch((e: Error) => send({ type: 'error', message: e.message }));
  });
  const ping = setInterval(() => socket.ping(), PING_MS);
  socket.on('close', () => {
    closed = true;
    clearInterval(ping);
    for (const watcher of watchers) void watcher.close();
  });
}

