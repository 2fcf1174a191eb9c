/**
 * A handle on one sandbox by name: run commands in it, refresh what is known about it, delete
 * it. Creating a handle makes no request; the sandbox may not even exist yet.
 */
import { SandboxProcess, type SpawnOptions } from './exec.js';
import { SandboxFilesystem } from './fs.js';
import { SandboxServices } from './services.js';
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
import { BurrowError } from './errors.js';
import { exportSandbox, type ExportOptions, type SandboxExport } from './image-archives.js';
import { readEvents } from './ndjson.js';
import { openTcpProxy, PortWatcher, type PortEvent } from './network.js';
import type { Duplex } from 'node:stream';
import type { PrivilegesPolicy } from '@burrow/protocol';
import { followEvents, listEvents, type EventsOptions } from './events.js';
import type {
  Checkpoint,
  CheckpointEvent,
  ExecSessionSummary,
  ForkRequest,
  NetworkPolicy,
  RestartResult,
  KillResult,
  SandboxCheck,
  SandboxEventWire,
  SleepSettings,
  Sprite,
  SpriteConfig,
  UsageReport,
} from '@burrow/protocol';

/** Streams have no timeout in the Sprites SDKs; this only bounds a server that hangs. */
const STREAM_TIMEOUT_MS = 30 * 60_000;

export interface CheckpointStreamOptions {
  /** Each progress event as it arrives (`info` lines carry timings). */
  onEvent?: (event: CheckpointEvent) => void;
}

export interface CreateCheckpointOptions extends CheckpointStreamOptions {
  /** Keep the running processes too (vm sandboxes only): a restore or fork of the checkpoint resumes them. */
  memory?: boolean;
}

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

  /** The sandbox's filesystem (spec §6), as the sandbox user; `.with({ asRoot: true })` for root. */
  get fs(): SandboxFilesystem {
    return new SandboxFilesystem(this.api, this.name);
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

  /** The sandbox's supervised services (spec §7). */
  get services(): SandboxServices {
    return new SandboxServices(this.api, this.path());
  }

  /** Fetches the sandbox's current state into {@link info}. */
  async refresh(): Promise<Sprite> {
    this.info = await this.api.json<Sprite>('GET', this.path());
    return this.info;
  }

  /**
   * Changes resource limits (`cpus`, `ram_mb`, `storage_gb`, `pids_limit`), at once when the
   * sandbox runs. Rejects with `conflict` (409) when memory is already above the new limit.
   */
  async updateLimits(config: Partial<Omit<SpriteConfig, 'region'>>): Promise<Sprite> {
    this.info = await this.api.json<Sprite>('PUT', this.path(), { body: { config } });
    return this.info;
  }

  /** The event log, oldest first (created, woke, checkpointed, oom_killed, ...). */
  events(options: EventsOptions = {}): Promise<SandboxEventWire[]> {
    return listEvents(this.api, this.path(), options);
  }

  /** Past events, then new ones as they happen, until `signal` aborts. */
  followEvents(options: EventsOptions & { signal?: AbortSignal } = {}): AsyncGenerator<SandboxEventWire> {
    return followEvents(this.api, this.path(), options);
  }

  /** Metered usage and its estimated cost over [from, to) (default: the last 24 hours). */
  usage(range: { from?: Date; to?: Date } = {}): Promise<UsageReport> {
    return this.api.json<UsageReport>('GET', `${this.path()}/usage`, { query: usageQuery(range) });
  }

  /**
   * Puts the sandbox to sleep now: warm (frozen, memory kept, wakes in milliseconds) or, with
   * `cold`, stopped (disk kept, wakes in about a second). Any later use wakes it.
   */
  async sleep(options: { cold?: boolean } = {}): Promise<Sprite> {
    const query = new URLSearchParams(options.cold ? { cold: 'true' } : {});
    this.info = await this.api.json<Sprite>('POST', `${this.path()}/sleep`, { query, timeoutMs: 60_000 });
    return this.info;
  }

  /** Wakes the sandbox now and resolves once it runs. */
  async wake(): Promise<Sprite> {
    this.info = await this.api.json<Sprite>('POST', `${this.path()}/wake`, { timeoutMs: 60_000 });
    return this.info;
  }

  /**
   * Reboots the sandbox on its disk and resolves once it runs again: every process and session
   * ends, services start again, a changed privileges policy applies. Wakes a sleeping sandbox.
   */
  /**
   * Ends every process in the sandbox but its init; services start again. It starts nothing
   * inside, so it works when the sandbox is at its process limit (a fork bomb), where `exec`
   * is refused with `pids_exhausted`.
   */
  async killProcesses(): Promise<KillResult> {
    return this.api.json<KillResult>('POST', `${this.path()}/kill`, { timeoutMs: 60_000 });
  }

  async restart(): Promise<RestartResult> {
    return this.api.json<RestartResult>('POST', `${this.path()}/restart`, { timeoutMs: 60_000 });
  }

  /** Probes a running sandbox (`ok` with `elapsed` ms); a sleeping one is reported, not woken. */
  async check(): Promise<SandboxCheck> {
    return this.api.json<SandboxCheck>('GET', `${this.path()}/check`);
  }

  /** Changes the idle timeouts of this sandbox (see {@link SleepSettings}). */
  async setSleep(settings: SleepSettings): Promise<Sprite> {
    this.info = await this.api.json<Sprite>('PUT', this.path(), { body: { sleep: settings } });
    return this.info;
  }

  async delete(): Promise<void> {
    const response = await this.api.send('DELETE', this.path());
    await response.body?.cancel();
  }

  /**
   * Checkpoints the sandbox's disk (a copy-on-write snapshot; the sandbox keeps running), and
   * with `memory` its running processes, and resolves with the new checkpoint once it is durable.
   */
  async createCheckpoint(comment?: string, options: CreateCheckpointOptions = {}): Promise<Checkpoint> {
    const response = await this.api.send('POST', `${this.path()}/checkpoint`, {
      body: { ...(comment === undefined ? {} : { comment }), ...(options.memory ? { memory: true } : {}) },
      expect: [200],
      timeoutMs: STREAM_TIMEOUT_MS,
    });
    const complete = await readEvents(response, `checkpoint of '${this.name}'`, options.onEvent);
    const id = /Checkpoint (\S+) created/.exec(complete.data)?.[1];
    if (id) return this.getCheckpoint(id);
    // A server that words `complete` differently: the newest checkpoint is the one just made.
    const [newest] = await this.listCheckpoints();
    if (!newest) throw new BurrowError('internal', `burrow reported a checkpoint of '${this.name}' but lists none`);
    return newest;
  }

  /** Checkpoints, newest first; automatic ones only with `includeAuto`. */
  async listCheckpoints(options: { includeAuto?: boolean; history?: string } = {}): Promise<Checkpoint[]> {
    const query = new URLSearchParams();
    if (options.includeAuto) query.set('includeAuto', 'true');
    if (options.history) query.set('history', options.history);
    return this.api.json<Checkpoint[]>('GET', `${this.path()}/checkpoints`, { query });
  }

  /** Rejects with code `checkpoint_not_found` (404) for an unknown id. */
  async getCheckpoint(id: string): Promise<Checkpoint> {
    return this.api.json<Checkpoint>('GET', this.checkpointPath(id));
  }

  /**
   * Puts the disk back as it was at checkpoint `id` and resolves once the sandbox runs again.
   * Running commands end. The state before is kept as an automatic checkpoint (see
   * `listCheckpoints({ includeAuto: true })`), so a restore can be undone.
   */
  async restoreCheckpoint(id: string, options: CheckpointStreamOptions = {}): Promise<void> {
    const response = await this.api.send('POST', `${this.checkpointPath(id)}/restore`, {
      expect: [200],
      timeoutMs: STREAM_TIMEOUT_MS,
    });
    await readEvents(response, `restore of '${this.name}' to ${id}`, options.onEvent);
  }

  /** Rejects with `checkpoint_in_use` (409) for the checkpoint the sandbox stands on. */
  async deleteCheckpoint(id: string): Promise<void> {
    const response = await this.api.send('DELETE', this.checkpointPath(id), { expect: [204, 200] });
    await response.body?.cancel();
  }

  /** A new, independent sandbox named `newName` whose disk starts as checkpoint `id` of this one. */
  /** The egress policy (spec §8); `{ rules: [] }` when the sandbox has none. */
  async getNetworkPolicy(): Promise<NetworkPolicy> {
    return this.api.json<NetworkPolicy>('GET', `${this.path()}/policy/network`);
  }

  /** Replaces the egress policy, live; `{ rules: [] }` removes it (public internet open). */
  async setNetworkPolicy(policy: NetworkPolicy): Promise<void> {
    const response = await this.api.send('POST', `${this.path()}/policy/network`, { body: policy, expect: [204] });
    await response.body?.cancel();
  }

  /** The privileges policy; the defaults (`standard`, sudo allowed) when none was set. */
  async getPrivileges(): Promise<Required<PrivilegesPolicy>> {
    return this.api.json<Required<PrivilegesPolicy>>('GET', `${this.path()}/policy/privileges`);
  }

  /**
   * Changes the privileges policy (fields left out keep their value); it applies from the next
   * boot, so {@link restart} to apply it now. Rejects with `invalid_policy` (400) for what burrow
   * cannot apply (host devices, the `privileged` profile), and nothing changes.
   */
  async setPrivileges(policy: PrivilegesPolicy): Promise<Required<PrivilegesPolicy>> {
    return this.api.json<Required<PrivilegesPolicy>>('POST', `${this.path()}/policy/privileges`, { body: policy });
  }

  /** Back to the default privileges (sudo works again from the next boot). */
  async resetPrivileges(): Promise<Required<PrivilegesPolicy>> {
    return this.api.json<Required<PrivilegesPolicy>>('DELETE', `${this.path()}/policy/privileges`);
  }

  /** A TCP connection to `port` on the sandbox's localhost, through the proxy WebSocket (spec §9). */
  openTcpProxy(port: number, host = 'localhost'): Promise<Duplex> {
    return openTcpProxy(this.api, this.name, port, host);
  }

  /** Reports ports opened and closed inside; `ready` resolves with those open now (spec §10). */
  watchPorts(onEvent: (event: PortEvent) => void): PortWatcher {
    return new PortWatcher(this.api, this.name, onEvent);
  }

  /** The sandbox's URL and, for private ones, a login link for a browser (valid 10 minutes). */
  async urlLogin(): Promise<{ url: string; login_url: string; expires_at: string }> {
    return this.api.json('POST', `${this.path()}/url/login`);
  }

  /** Who may open the URL: `sprite` (a token or login cookie) or `public`. */
  async setUrlAuth(auth: 'sprite' | 'public'): Promise<Sprite> {
    this.info = await this.api.json<Sprite>('PUT', this.path(), { body: { url_settings: { auth } } });
    return this.info;
  }

  /**
   * The sandbox as an OCI image archive (a checkpoint, or an automatic one taken now), streamed:
   * pipe `stream` to a file or `docker load`. The sandbox keeps running.
   */
  export(options: ExportOptions = {}): Promise<SandboxExport> {
    return exportSandbox(this.api, this.path(), options);
  }

  async fork(id: string, newName: string): Promise<Sandbox> {
    const request: ForkRequest = { name: newName };
    const sprite = await this.api.json<Sprite>('POST', `${this.checkpointPath(id)}/fork`, {
      body: request,
      expect: [201],
      timeoutMs: 120_000,
    });
    return new Sandbox(this.api, sprite.name ?? newName, sprite);
  }

  private path(): string {
    return `/v1/sprites/${encodeURIComponent(this.name)}`;
  }

  private checkpointPath(id: string): string {
    return `${this.path()}/checkpoints/${encodeURIComponent(id)}`;
  }
}

export function usageQuery(range: { from?: Date; to?: Date; sprite?: string }): URLSearchParams {
  const query = new URLSearchParams();
  if (range.from) query.set('from', range.from.toISOString());
  if (range.to) query.set('to', range.to.toISOString());
  if (range.sprite) query.set('sprite', range.sprite);
  return query;
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}
