// envd's `filesystem.Filesystem` service (spec 3.4) over burrow's sandbox-fs: every path is
// opened by the sandbox's own kernel, as the request's user. The polling watcher trio keeps a
// watch's events here until fetched.
import { randomBytes } from 'node:crypto';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import type { FsEntry, FsWatchEventKind } from '@burrow/protocol';
import type { SandboxFs } from '../../../core/sandbox-fs.js';
import { EventQueue } from './event-queue.js';
import { rpc } from './envd-errors.js';
import { keepaliveMs, sandboxOf } from './envd-process.js';
import { resolvePath, rpcUser, type EnvdUser } from './envd-users.js';
import {
  EntryInfoSchema,
  EventType,
  FileType,
  Filesystem,
  type FilesystemEventSchema,
  type WatchDirResponseSchema,
} from './gen/filesystem/filesystem_pb.js';

type EntryInit = MessageInitShape<typeof EntryInfoSchema>;
type EventInit = MessageInitShape<typeof FilesystemEventSchema>;
type WatchInit = MessageInitShape<typeof WatchDirResponseSchema>;

/** Events a polling watcher keeps for its client; older ones are dropped past this. */
const WATCHER_BACKLOG = 10_000;

const FILE_TYPES = { file: FileType.FILE, directory: FileType.DIRECTORY, symlink: FileType.SYMLINK } as const;
const EVENT_TYPES: Record<FsWatchEventKind, EventType> = {
  create: EventType.CREATE,
  write: EventType.WRITE,
  remove: EventType.REMOVE,
  rename: EventType.RENAME,
  chmod: EventType.CHMOD,
};

/** `-rw-r--r--` as Go's FileMode prints it (d for directories, L for symlinks). */
export function permissionsText(type: FsEntry['type'], mode: number): string {
  const kind = type === 'directory' ? 'd' : type === 'symlink' ? 'L' : '-';
  const bits = 'rwxrwxrwx';
  return kind + [...bits].map((c, i) => (mode & (1 << (8 - i)) ? c : '-')).join('');
}

export function entryInfo(entry: FsEntry): EntryInit {
  const mode = parseInt(entry.mode, 8) & 0o777;
  return {
    name: entry.name,
    type: FILE_TYPES[entry.type],
    path: entry.path,
    size: BigInt(entry.size),
    mode,
    permissions: permissionsText(entry.type, mode),
    modifiedTime: timestampFromDate(new Date(entry.modTime)),
  };
}

/** How many levels below `root` `path` is (a direct child is 1). */
export function depthBelow(root: string, path: string): number {
  const base = root.endsWith('/') ? root : `${root}/`;
  return path.startsWith(base) ? path.slice(base.length).split('/').filter(Boolean).length : Infinity;
}

export interface FilesystemDeps {
  fs: SandboxFs;
}

export function filesystemService({ fs }: FilesystemDeps): ServiceImpl<typeof Filesystem> {
  const watchers = new Map<string, { sandbox: string; events: EventInit[]; close(): Promise<void> }>();

  const who = (ctx: HandlerContext): { sandbox: string; user: EnvdUser } => ({
    sandbox: sandboxOf(ctx),
    user: rpcUser(ctx.requestHeader.get('authorization')),
  });

  const stat = async (sandbox: string, path: string, user: EnvdUser): Promise<FsEntry> => {
    const listing = await fs.list(sandbox, path, { asRoot: user.asRoot, recursive: false });
    await listing.close();
    return listing.self;
  };

  /** A watch of a directory that exists, as the relative-path events envd sends. */
  const watch = async (sandbox: string, user: EnvdUser, req: { path: string; recursive: boolean; includeEntry: boolean }) => {
    const root = resolvePath(req.path, user);
    const self = await rpc(() => stat(sandbox, root, user));
    if (self.type !== 'directory') throw new ConnectError(`${root} is not a directory`, Code.InvalidArgument);
    const watching = await rpc(() => fs.watch(sandbox, [root], { asRoot: user.asRoot, recursive: req.recursive }));
    async function* events(): AsyncGenerator<EventInit | 'started'> {
      for await (const message of watching.messages) {
        if (message.type === 'subscribed') yield 'started';
        else if (message.type === 'error') throw new ConnectError(message.message, Code.Internal);
        else {
          const name = message.path.startsWith(`${root}/`) ? message.path.slice(root.length + 1) : message.path;
          const event: EventInit = { name, type: EVENT_TYPES[message.event] };
          if (req.includeEntry && message.event !== 'remove' && message.event !== 'rename') {
            const entry = await stat(sandbox, message.path, user).catch(() => undefined);
            if (entry) event.entry = entryInfo(entry);
          }
          yield event;
        }
      }
    }
    return { events: events(), close: () => watching.close() };
  };

  return {
    async stat(req, ctx) {
      const { sandbox, user } = who(ctx);
      return { entry: entryInfo(await rpc(() => stat(sandbox, resolvePath(req.path, user), user))) };
    },

    async makeDir(req, ctx) {
      const { sandbox, user } = who(ctx);
      const path = resolvePath(req.path, user);
      await rpc(() => fs.mkdir(sandbox, path, { asRoot: user.asRoot }));
      return { entry: entryInfo(await rpc(() => stat(sandbox, path, user))) };
    },

    async move(req, ctx) {
      const { sandbox, user } = who(ctx);
      const source = resolvePath(req.source, user);
      const destination = resolvePath(req.destination, user);
      await rpc(() => fs.rename(sandbox, source, destination, { asRoot: user.asRoot }));
      return { entry: entryInfo(await rpc(() => stat(sandbox, destination, user))) };
    },

    async listDir(req, ctx) {
      const { sandbox, user } = who(ctx);
      const path = resolvePath(req.path, user);
      const depth = Math.max(1, req.depth || 1);
      const listing = await rpc(() => fs.list(sandbox, path, { asRoot: user.asRoot, recursive: depth > 1 }));
      if (listing.self.type !== 'directory') {
        await listing.close();
        throw new ConnectError(`${path} is not a directory`, Code.InvalidArgument);
      }
      const entries: EntryInit[] = [];
      await rpc(async () => {
        for await (const entry of listing.entries) if (depthBelow(listing.self.path, entry.path) <= depth) entries.push(entryInfo(entry));
      });
      return { entries };
    },

    async remove(req, ctx) {
      const { sandbox, user } = who(ctx);
      await rpc(() => fs.delete(sandbox, resolvePath(req.path, user), { asRoot: user.asRoot, recursive: true }));
      return {};
    },

    async *watchDir(req, ctx) {
      const { sandbox, user } = who(ctx);
      const watching = await watch(sandbox, user, req);
      const queue = new EventQueue<WatchInit>();
      void (async () => {
        try {
          for await (const event of watching.events) {
            queue.push(event === 'started' ? { event: { case: 'start', value: {} } } : { event: { case: 'filesystem', value: event } });
          }
        } catch {
          // the watch ended (the sandbox stopped, the directory went): so does the stream
        }
        queue.end();
      })();
      try {
        yield* queue.drain(ctx.signal, keepaliveMs(ctx), () => ({ event: { case: 'keepalive', value: {} } }));
      } finally {
        await watching.close();
      }
    },

    async createWatcher(req, ctx) {
      const { sandbox, user } = who(ctx);
      const watching = await watch(sandbox, user, req);
      const id = randomBytes(12).toString('hex');
      const watcher = { sandbox, events: [] as EventInit[], close: watching.close };
      watchers.set(id, watcher);
      void (async () => {
        try {
          for await (const event of watching.events) {
            if (event === 'started') continue;
            watcher.events.push(event);
            if (watcher.events.length > WATCHER_BACKLOG) watcher.events.shift();
          }
        } catch {
          // kept until removed; GetWatcherEvents answers what came before the end
        }
      })();
      return { watcherId: id };
    },

    async getWatcherEvents(req, ctx) {
      const watcher = watchers.get(req.watcherId);
      if (!watcher || watcher.sandbox !== sandboxOf(ctx)) throw new ConnectError(`watcher ${req.watcherId} not found`, Code.NotFound);
      return { events: watcher.events.splice(0) };
    },

    async removeWatcher(req, ctx) {
      const watcher = watchers.get(req.watcherId);
      if (!watcher || watcher.sandbox !== sandboxOf(ctx)) throw new ConnectError(`watcher ${req.watcherId} not found`, Code.NotFound);
      watchers.delete(req.watcherId);
      await watcher.close();
      return {};
    },
  };
}
