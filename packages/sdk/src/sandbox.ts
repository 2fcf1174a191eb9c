/**
 * A handle on one sandbox by name: run commands in it, refresh what is known about it, delete
 * it. Creating a handle makes no request; the sandbox may not even exist yet.
 */
import { SandboxProcess, type SpawnOptions } from './exec.js';
import type { HttpApi } from './http.js';
import { execURL } from './exec-socket.js';
import {
  attachSession,
  createSession,
  killSession,
  listSessions,
  type Attached,
  type KillSessionOptions,
  type SessionOptions,
  type SessionProcess,
} from './sessions.js';
import { TerminalProcess, type TerminalSpawnOptions } from './tty.js';
import type { ExecSessionSummary, Sprite } from './types.js';

export interface ExecOptions {
  /** When given, replaces the sandbox's default environment (spec §3.1). */
  env?: Record<string, string>;
  cwd?: string;
  /** The whole of the command's input; without it the command reads an empty stdin. */
  stdin?: string | Uint8Array;
  signal?: AbortSignal;
}

export interface ExecResult<Output = string> {
  stdout: Output;
  stderr: Output;
  exitCode: number;
}

/** Made by `BurrowClient.sandbox()` and friends, not constructed directly. */
export class Sandbox {
  readonly name: string;
  /** The last Sprite object the server sent for this sandbox, if any request fetched one. */
  info?: Sprite;

  constructor(
    private readonly api: HttpApi,
    name: string,
    info?: Sprite,
  ) {
    this.name = name;
    if (info) this.info = info;
  }

  /**
   * Runs `cmd` with `args` (no shell: use `exec('sh', ['-c', line])` for one) and collects its
   * output as UTF-8. A non-zero exit code is a result, not an error; a lost connection rejects.
   */
  async exec(cmd: string, args: string[] = [], options: ExecOptions = {}): Promise<ExecResult> {
    const result = await this.execBuffer(cmd, args, options);
    return { stdout: result.stdout.toString('utf8'), stderr: result.stderr.toString('utf8'), exitCode: result.exitCode };
  }

  /** Like {@link exec}, for output that is not text. */
  async execBuffer(cmd: string, args: string[] = [], options: ExecOptions = {}): Promise<ExecResult<Buffer>> {
    const { stdin, ...spawnOptions } = options;
    const child = this.spawn(cmd, args, { ...spawnOptions, stdin: stdin !== undefined });
    if (stdin !== undefined) child.stdin.end(stdin);
    const [stdout, stderr, exitCode] = await Promise.all([collect(child.stdout), collect(child.stderr), child.wait()]);
    return { stdout, stderr, exitCode };
  }

  /**
   * Starts `cmd` and returns at once: a {@link SandboxProcess} with separate stdout and stderr,
   * or, with `tty: { rows, cols }`, a {@link TerminalProcess} whose stdout is the terminal.
   */
  spawn(cmd: string, args: string[] | undefined, options: TerminalSpawnOptions): TerminalProcess;
  spawn(cmd: string, args?: string[], options?: SpawnOptions): SandboxProcess;
  spawn(cmd: string, args?: string[], options?: SpawnOptions | TerminalSpawnOptions): SandboxProcess | TerminalProcess;
  spawn(cmd: string, args: string[] = [], options: SpawnOptions | TerminalSpawnOptions = {}): SandboxProcess | TerminalProcess {
    const argv = [cmd, ...args];
    if (options.tty) {
      const size = options.tty === true ? {} : options.tty;
      const url = execURL(this.api, this.name, { argv, env: options.env, cwd: options.cwd, stdin: true, tty: size });
      return new TerminalProcess(this.api, this.name, { url }, { signal: options.signal });
    }
    const { stdin, signal } = options as SpawnOptions;
    const url = execURL(this.api, this.name, { argv, env: options.env, cwd: options.cwd, stdin: stdin !== false });
    return new SandboxProcess(this.api, this.name, { url }, { signal, ...(stdin === undefined ? {} : { stdin }) });
  }

  /**
   * Starts `cmd` as a detachable session: it keeps running when this connection goes (see
   * {@link attachSession}). On a terminal unless `tty: false`. Resolves once the server has
   * named the session, so `sessionId` is set.
   */
  createSession(cmd: string, args: string[] | undefined, options: SessionOptions & { tty: false }): Promise<Attached<SandboxProcess>>;
  createSession(cmd: string, args?: string[], options?: SessionOptions & { tty?: true }): Promise<Attached<TerminalProcess>>;
  createSession(cmd: string, args?: string[], options?: SessionOptions): Promise<SessionProcess>;
  createSession(cmd: string, args: string[] = [], options: SessionOptions = {}): Promise<SessionProcess> {
    return createSession(this.api, this.name, cmd, args, options);
  }

  /**
   * Attaches to a session by id: its scrollback first, then live output. The handle is a
   * TerminalProcess or a SandboxProcess as the session's `tty` says.
   */
  attachSession(id: string): Promise<SessionProcess> {
    return attachSession(this.api, this.name, id);
  }

  listSessions(): Promise<ExecSessionSummary[]> {
    return listSessions(this.api, this.name);
  }

  /** Signals a session and resolves with its exit code; see {@link KillSessionOptions}. */
  killSession(id: string, options: KillSessionOptions = {}): Promise<number> {
    return killSession(this.api, this.name, id, options);
  }

  /** Fetches the sandbox's current state into {@link info}. */
  async refresh(): Promise<Sprite> {
    this.info = await this.api.json<Sprite>('GET', this.path());
    return this.info;
  }

  async delete(): Promise<void> {
    const response = await this.api.send('DELETE', this.path());
    await response.body?.cancel();
  }

  private path(): string {
    return `/v1/sprites/${encodeURIComponent(this.name)}`;
  }
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}
