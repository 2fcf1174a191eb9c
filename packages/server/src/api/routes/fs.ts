// Filesystem (spec section 6): /v1/sprites/{name}/fs/{read,write,list,delete,rename,copy,chmod,
// chown,watch}. Paths are resolved and checked here (NUL bytes, PATH_MAX) and everything else
// happens inside the sandbox (core/sandbox-fs.ts). Errors leave in the fs shape of section 6,
// `{"error": text, "code": errno, "path"}`; sandbox-level errors keep the flat shape of section 1.
import { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { z, ZodError } from 'zod';
import type { FsErrorBody, FsListResponse, FsWatchMessage } from '@burrow/protocol';
import { validName } from '../../core/names.js';
import { FsError, sandboxPath, type SandboxFs } from '../../core/sandbox-fs.js';
import type { ApiDeps } from '../app.js';

type NameParams = { Params: { name: string } };

const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
/** `0644`, `644`, `4755`: permission bits in octal, as the SDKs send them. */
const mode = z
  .string()
  .regex(/^[0-7]{3,4}$/, 'mode is an octal string such as 0644')
  .transform((m) => m.padStart(4, '0'));
const ownerId = z.union([
  z.number().int().min(0).max(4_294_967_294),
  z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\$?$/, 'uid and gid are numbers or user and group names'),
]);

const pathQuery = z.object({ path: z.string(), workingDir: z.string().optional(), asRoot: flag.optional() });
const writeQuery = pathQuery.extend({ mkdirParents: flag.optional(), mode: mode.optional() });
const listQuery = pathQuery.extend({ recursive: flag.optional(), pattern: z.string().max(1024).optional() });
const deleteQuery = pathQuery.extend({ recursive: flag.optional() });
const renameBody = z.object({
  source: z.string(),
  dest: z.string(),
  workingDir: z.string().optional(),
  asRoot: z.boolean().optional(),
});
const copyBody = renameBody.extend({ recursive: z.boolean().optional(), preserveAttrs: z.boolean().optional() });
const chmodBody = z.object({
  path: z.string(),
  workingDir: z.string().optional(),
  mode,
  recursive: z.boolean().optional(),
  asRoot: z.boolean().optional(),
});
const chownBody = z.object({
  path: z.string(),
  workingDir: z.string().optional(),
  uid: ownerId.optional(),
  gid: ownerId.optional(),
  recursive: z.boolean().optional(),
  asRoot: z.boolean().optional(),
});
const subscribeMessage = z.object({
  type: z.literal('subscribe'),
  paths: z.array(z.string()).min(1).max(64),
  recursive: z.boolean().optional(),
  workingDir: z.string().optional(),
});

/** Watch subscriptions per socket: each one is a process in the sandbox. */
const MAX_SUBSCRIPTIONS = 16;
/** Bytes queued in a watch socket before the watcher in the sandbox is paused. */
const WATCH_HIGH_WATER = 1 << 20;
const PING_MS = 30_000;

export function fsRoutes(deps: ApiDeps): FastifyPluginAsync {
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
  return reply.code(err.status).type('application/json').send(body);
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

/** The fs endpoints for GET /v1/openapi.json, described from the schemas the handlers parse with. */
export function fsOpenapiPaths(nameParam: object): Record<string, object> {
  const fsError = {
    description: 'fs error: {"error": text, "code": errno (ENOENT 404, EACCES/EPERM 403, EEXIST/ENOTEMPTY 409, ENOTDIR/EISDIR/EINVAL/ENAMETOOLONG 400, EIO 500), "path"}',
  };
  const query = (schema: z.ZodObject) => {
    const json = z.toJSONSchema(schema, { io: 'input' }) as { properties: Record<string, object>; required?: string[] };
    return Object.entries(json.properties).map(([name, s]) => ({ name, in: 'query', required: json.required?.includes(name) ?? false, schema: s }));
  };
  const body = (schema: z.ZodObject) => ({ content: { 'application/json': { schema: z.toJSONSchema(schema, { io: 'input' }) } } });
  const done = { '200': { description: 'done' }, '400': fsError, '403': fsError, '404': fsError, '409': fsError };
  const at = (op: string) => `/v1/sprites/{name}/fs/${op}`;
  const common = 'Runs inside the sandbox as the sandbox user (uid 1000) unless asRoot; relative paths resolve against workingDir (default /).';
  return {
    [at('read')]: {
      parameters: [nameParam, ...query(pathQuery)],
      get: { summary: `A file's bytes, streamed. ${common}`, responses: { ...done, '200': { description: 'application/octet-stream' } } },
    },
    [at('write')]: {
      parameters: [nameParam, ...query(writeQuery)],
      put: {
        summary: `Create or replace a file with the request body (streamed). mkdirParents creates every missing parent; without it only the immediate parent is created. ${common}`,
        requestBody: { content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
        responses: { ...done, '200': { description: '{path, size}' } },
      },
    },
    [at('list')]: {
      parameters: [nameParam, ...query(listQuery)],
      get: {
        summary: `{path, self, entries: [{name, path, type, size, mode, modTime, isDir}], count}; a file lists as its own single entry; pattern is a glob on names. ${common}`,
        responses: done,
      },
    },
    [at('delete')]: { parameters: [nameParam, ...query(deleteQuery)], delete: { summary: `Remove a file, symlink, empty directory or (recursive) tree. ${common}`, responses: done } },
    [at('rename')]: { parameters: [nameParam], post: { summary: `rename(2), or a move across filesystems. ${common}`, requestBody: body(renameBody), responses: done } },
    [at('copy')]: { parameters: [nameParam], post: { summary: `Copy a file, or a tree with recursive. ${common}`, requestBody: body(copyBody), responses: done } },
    [at('chmod')]: { parameters: [nameParam], post: { summary: `Set permission bits. ${common}`, requestBody: body(chmodBody), responses: done } },
    [at('chown')]: { parameters: [nameParam], post: { summary: `Set owner and group (ids or names). ${common}`, requestBody: body(chownBody), responses: done } },
    [at('watch')]: {
      parameters: [nameParam, ...query(pathQuery.pick({ asRoot: true }))],
      get: {
        summary:
          'WebSocket. Send {"type":"subscribe","paths":[...],"recursive":bool,"workingDir":"/"}; receive {"type":"subscribed","paths"}, {"type":"event","path","event":"write|create|remove|rename|chmod","timestamp","size","isDir"} and {"type":"error","message"}.',
        responses: { '101': { description: 'watch stream' }, '400': fsError, '404': fsError },
      },
    },
  };
}
