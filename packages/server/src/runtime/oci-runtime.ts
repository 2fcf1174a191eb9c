// One driver for both OCI runtimes burrow ships: gVisor's runsc (a user-space kernel between the
// sandbox and the host) and runc (Linux namespaces, seccomp and dropped capabilities only).
// Both take the same bundle and the same verbs; they differ in global flags and strength.
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RuntimeKind } from '../config.js';
import { CommandError, run, runDetached } from '../util/run.js';
import type { ContainerState, ProcessSpec, SandboxRuntime } from './runtime.js';

interface OciRuntimeOptions {
  kind: RuntimeKind;
  binary: string;
  /** State directory private to this burrow instance, so instances never see each other. */
  root: string;
  globalArgs: string[];
  isolation: string;
  /**
   * The network namespace to run the runtime itself in, for a runtime that is not told to join
   * one (see oci-bundle.ts): its containers and the commands run in them live there.
   */
  networkOf?: (containerId: string) => string;
}

export class OciRuntime implements SandboxRuntime {
  readonly kind: RuntimeKind;
  readonly isolation: string;
  readonly ownKernel: boolean;
  /** Both run on the host's network stack, in the sandbox's namespace (gVisor with `--network=host`). */
  readonly ownNetworkStack = false;

  constructor(private readonly opts: OciRuntimeOptions) {
    this.kind = opts.kind;
    this.isolation = opts.isolation;
    this.ownKernel = opts.kind === 'gvisor';
  }

  private args(...rest: string[]): string[] {
    return ['--root', this.opts.root, ...this.opts.globalArgs, ...rest];
  }

  async start(containerId: string, bundleDir: string): Promise<void> {
    await mkdir(this.opts.root, { recursive: true });
    const [file, args] = this.inNetwork(containerId, this.args('run', '--detach', '--bundle', bundleDir, containerId));
    await runDetached(file, args, join(bundleDir, 'start.log'));
  }

  async state(containerId: string): Promise<ContainerState> {
    if (!containerId) return 'missing'; // a sandbox that has not booted yet
    try {
      const { stdout } = await run(this.opts.binary, this.args('state', containerId), { timeoutMs: 10_000 });
      return toState(JSON.parse(stdout).status);
    } catch (e) {
      if (e instanceof CommandError && /does not exist|not exist|no such/i.test(e.message)) return 'missing';
      throw e;
    }
  }

  async list(): Promise<Array<{ id: string; state: ContainerState }>> {
    await mkdir(this.opts.root, { recursive: true });
    const { stdout } = await run(this.opts.binary, this.args('list', '--format', 'json'), { timeoutMs: 10_000 });
    const parsed: unknown = JSON.parse(stdout || 'null');
    if (!Array.isArray(parsed)) return [];
    return parsed.map((c: { id: string; status: string }) => ({ id: c.id, state: toState(c.status) }));
  }

  exec(containerId: string, p: ProcessSpec) {
    const [file, args] = this.inNetwork(containerId, this.execArgs(containerId, p));
    return spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  async run(containerId: string, p: ProcessSpec, timeoutMs = 30_000): Promise<string> {
    const [file, args] = this.inNetwork(containerId, this.execArgs(containerId, p));
    return (await run(file, args, { timeoutMs })).stdout;
  }

  /** The runtime's command line, run inside the container's network namespace when it has one. */
  private inNetwork(containerId: string, args: string[]): [string, string[]] {
    if (!this.opts.networkOf) return [this.opts.binary, args];
    return ['nsenter', [`--net=${this.opts.networkOf(containerId)}`, '--', this.opts.binary, ...args]];
  }

  private execArgs(containerId: string, p: ProcessSpec): string[] {
    return this.args(
      'exec',
      '--user', `${p.uid}:${p.gid}`,
      '--cwd', p.cwd,
      ...p.env.flatMap((e) => ['--env', e]),
      containerId,
      ...p.args,
    );
  }

  /** The container's process on the host while it runs or is paused; 0 otherwise. */
  async hostPid(containerId: string): Promise<number> {
    try {
      const { stdout } = await run(this.opts.binary, this.args('state', containerId), { timeoutMs: 10_000 });
      const state = JSON.parse(stdout) as { status?: string; pid?: number };
      const live = state.status === 'running' || state.status === 'created' || state.status === 'paused';
      return live && typeof state.pid === 'number' ? state.pid : 0;
    } catch {
      return 0;
    }
  }

  async tasks(containerId: string): Promise<number | null> {
    try {
      const { stdout } = await run(this.opts.binary, this.args('events', '--stats', containerId), { timeoutMs: 10_000 });
      const count = (JSON.parse(stdout) as { data?: { pids?: { current?: number } } }).data?.pids?.current;
      return typeof count === 'number' ? count : null;
    } catch {
      return null;
    }
  }

  async pause(containerId: string): Promise<void> {
    await run(this.opts.binary, this.args('pause', containerId), { timeoutMs: 30_000 });
  }

  async resume(containerId: string): Promise<void> {
    await run(this.opts.binary, this.args('resume', containerId), { timeoutMs: 30_000 });
  }

  async kill(containerId: string): Promise<void> {
    // Only a live (running or paused) container's pid is current, so only that one is signalled.
    const running = await this.hostPid(containerId);
    if (running <= 0) return;
    try {
      process.kill(running, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  async remove(containerId: string): Promise<void> {
    // A forced delete stops a running gVisor sandbox through its control socket and waits (about
    // 2 s on the ptrace platform); SIGKILLed first, it is gone in about 1 s and delete only
    // cleans up. runsc 2022-12 panics deleting a paused container ("invalid state transition:
    // paused => stopped") after it has removed it; killed first, the panic is the only difference.
    await this.kill(containerId);
    try {
      await run(this.opts.binary, this.args('delete', '--force', containerId), { timeoutMs: 30_000 });
    } catch (e) {
      if (e instanceof CommandError && /does not exist|not exist|no such/i.test(e.message)) return;
      if ((await this.state(containerId)) === 'missing') return;
      throw e;
    }
  }
}

function toState(status: string): ContainerState {
  switch (status) {
    case 'running':
    case 'created':
      return 'running';
    case 'paused':
      return 'paused';
    default:
      return 'stopped';
  }
}
