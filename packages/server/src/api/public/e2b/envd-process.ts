// envd's `process.Process` service (spec 3.3) over burrow's exec and its sessions: each process
// is a session (so `burrow sessions list` shows it too) that runs on when its client goes away,
// and its pid is the session id. Output is replayed from the start to the Start stream that
// made it; a Connect stream gets only what comes after it attached, as envd does.
import { constants } from 'node:os';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import type { SandboxManager } from '../../../core/sandbox-manager.js';
import type { Session, SessionClient, SessionRegistry } from '../../../core/sessions.js';
import { EventQueue } from './event-queue.js';
import { rpc } from './envd-errors.js';
import { resolvePath, rpcUser } from './envd-users.js';
import {
  Process,
  ProcessEventSchema,
  Signal,
  type ProcessConfig,
  type ProcessSelector,
} from './gen/process/process_pb.js';

type Event = MessageInitShape<typeof ProcessEventSchema>;

/** envd's default when the client names no interval: the SDK asks for 50 s. */
const DEFAULT_KEEPALIVE_S = 50;
/** Output queued for one slow client before the process's pipes are paused. */
const HIGH_WATER = 1 << 20;

export interface ProcessDeps {
  manager: SandboxManager;
  sessions: SessionRegistry;
}

interface Started {
  config: ProcessConfig;
  tag?: string;
}

/** The sandbox a request is for: the adapter checked the header and the token before this runs. */
export function sandboxOf(ctx: HandlerContext): string {
  return ctx.requestHeader.get('e2b-sandbox-id') ?? '';
}

export function keepaliveMs(ctx: HandlerContext): number {
  const asked = Number(ctx.requestHeader.get('keepalive-ping-interval'));
  const seconds = Number.isFinite(asked) && asked >= 1 ? Math.min(asked, 240) : DEFAULT_KEEPALIVE_S;
  return seconds * 1000;
}

/** How a process ended, as envd reports it: Go's `ProcessState` text, -1 for a signal. */
export function endEvent(exitCode: number): Event {
  const signal = exitCode > 128 ? Object.entries(constants.signals).find(([, n]) => n === exitCode - 128)?.[0] : undefined;
  if (signal) {
    const text = `signal: ${signal === 'SIGKILL' ? 'killed' : signal === 'SIGTERM' ? 'terminated' : signal.toLowerCase()}`;
    return { event: { case: 'end', value: { exitCode: -1, exited: false, status: text, error: text } } };
  }
  const status = `exit status ${exitCode}`;
  return { event: { case: 'end', value: { exitCode, exited: true, status, ...(exitCode === 0 ? {} : { error: status }) } } };
}

export function processService(deps: ProcessDeps): Partial<ServiceImpl<typeof Process>> {
  const { manager, sessions } = deps;
  const started = new WeakMap<Session, Started>();

  const find = (ctx: HandlerContext, selector: ProcessSelector | undefined): Session => {
    const sandbox = sandboxOf(ctx);
    const sel = selector?.selector;
    let session: Session | undefined;
    if (sel?.case === 'pid') session = sessions.get(sandbox, String(sel.value));
    else if (sel?.case === 'tag') session = sessions.list(sandbox).find((s) => s.active && started.get(s)?.tag === sel.value);
    else throw new ConnectError('name the process by pid or tag', Code.InvalidArgument);
    if (!session || !session.active) throw new ConnectError(`process ${sel.value} not found`, Code.NotFound);
    return session;
  };

  /** The session's events from now on (all of them when `replay`), until it ends or the client goes. */
  async function* follow(session: Session, ctx: HandlerContext, replay: boolean): AsyncGenerator<Event> {
    const queue = new EventQueue<Event>();
    const pty = session.info.tty;
    let live = replay;
    const client: SessionClient = {
      output: ({ stream, data }) => {
        if (!live) return;
        const output = pty ? { case: 'pty' as const, value: data } : stream === 2 ? { case: 'stderr' as const, value: data } : { case: 'stdout' as const, value: data };
        queue.push({ event: { case: 'data', value: { output } } }, data.length);
      },
      exited: (code) => {
        queue.push(endEvent(code));
        queue.end();
      },
      congested: () => queue.bytes > HIGH_WATER,
    };
    session.attach(client);
    live = true;
    try {
      yield { event: { case: 'start', value: { pid: Number(session.info.id) } } };
      for await (const event of queue.drain(ctx.signal, keepaliveMs(ctx), () => ({ event: { case: 'keepalive', value: {} } }))) {
        yield event;
        if (queue.bytes < HIGH_WATER / 2) session.resumeIfClear();
      }
    } finally {
      session.detach(client);
    }
  }

  return {
    async *start(req, ctx) {
      const sandbox = sandboxOf(ctx);
      const user = rpcUser(ctx.requestHeader.get('authorization'));
      const config = req.process;
      if (!config?.cmd) throw new ConnectError('process.cmd is required', Code.InvalidArgument);
      const args = [config.cmd, ...config.args];
      if (args.some((a) => a.includes('\0'))) throw new ConnectError('cmd and args must not contain NUL bytes', Code.InvalidArgument);
      const cwd = config.cwd ? resolvePath(config.cwd, user) : user.home;
      const size = req.pty?.size;
      const tty = size ? { rows: size.rows || 24, cols: size.cols || 80 } : undefined;
      const handle = await rpc(() => manager.exec(sandbox, { args, envOverlay: config.envs, cwd, asRoot: user.asRoot, tty }));
      const session = sessions.add(
        { sandbox, command: args, workdir: cwd, tty: tty !== undefined, rows: tty?.rows ?? 0, cols: tty?.cols ?? 0 },
        handle,
        0, // runs on without a client, as envd's processes do
      );
      started.set(session, { config, ...(req.tag === undefined ? {} : { tag: req.tag }) });
      if (req.stdin === false && !tty) session.endInput();
      // envd ends the process at the client's deadline (Connect-Timeout-Ms), attached or not.
      const timeout = ctx.timeoutMs();
      if (timeout !== undefined) {
        const timer = setTimeout(() => void handle.signal('SIGKILL').catch(() => {}), timeout);
        void handle.exited.finally(() => clearTimeout(timer));
      }
      for await (const event of follow(session, ctx, true)) yield { event };
    },

    async *connect(req, ctx) {
      const session = find(ctx, req.process);
      for await (const event of follow(session, ctx, false)) yield { event };
    },

    async list(_req, ctx) {
      const processes = sessions
        .list(sandboxOf(ctx))
        .filter((s) => s.active)
        .map((s) => {
          const own = started.get(s);
          const config = own?.config ?? { cmd: s.info.command[0] ?? '', args: s.info.command.slice(1), envs: {}, cwd: s.info.workdir };
          return { pid: Number(s.info.id), config, ...(own?.tag === undefined ? {} : { tag: own.tag }) };
        });
      return { processes };
    },

    async sendInput(req, ctx) {
      const session = find(ctx, req.process);
      const input = req.input?.input;
      if (input?.case === 'stdin' || input?.case === 'pty') session.write(Buffer.from(input.value));
      return {};
    },

    async streamInput(reqs, ctx) {
      let session: Session | undefined;
      for await (const req of reqs) {
        if (req.event.case === 'start') session = find(ctx, req.event.value.process);
        else if (req.event.case === 'data') {
          if (!session) throw new ConnectError('the first message must be start', Code.FailedPrecondition);
          const input = req.event.value.input?.input;
          if (input?.case === 'stdin' || input?.case === 'pty') session.write(Buffer.from(input.value));
        }
      }
      return {};
    },

    async sendSignal(req, ctx) {
      const session = find(ctx, req.process);
      const signal = req.signal === Signal.SIGKILL ? 'SIGKILL' : req.signal === Signal.SIGTERM ? 'SIGTERM' : undefined;
      if (!signal) throw new ConnectError('signal must be SIGNAL_SIGKILL or SIGNAL_SIGTERM', Code.InvalidArgument);
      await rpc(() => session.handle.signal(signal));
      return {};
    },

    async closeStdin(req, ctx) {
      const session = find(ctx, req.process);
      if (session.info.tty) throw new ConnectError('a terminal has no stdin to close: send Ctrl-D (0x04)', Code.FailedPrecondition);
      session.endInput();
      return {};
    },

    async update(req, ctx) {
      const session = find(ctx, req.process);
      const size = req.pty?.size;
      if (size) {
        if (!session.info.tty) throw new ConnectError('the process has no terminal to resize', Code.FailedPrecondition);
        await rpc(() => session.handle.resize(size.rows, size.cols));
      }
      return {};
    },
  };
}
