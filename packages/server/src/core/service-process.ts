// One supervised service of one sandbox: its process (a long-running command launched through
// the sandbox's agent), its state as the Sprites services API reports it, its output as events,
// and restarts with exponential backoff when it exits on its own. A stop, or the sandbox going
// cold, is an expected exit: no restart.
import { EventEmitter } from 'node:events';
import type { ServiceEvent, ServiceStatus } from '@burrow/protocol';
import type { ServiceDefinition } from '../db/services.js';
import type { SandboxProcessHandle } from '../runtime/agent.js';
import { exitCodeOf } from './exit-codes.js';

// The wire shapes of spec §7, shared with the SDK.
export type { ServiceEvent, ServiceStatus } from '@burrow/protocol';

export interface ServiceProcessDeps {
  launch(def: ServiceDefinition): Promise<SandboxProcessHandle>;
  /** Records the agent token of the running process (null once it exited). */
  tokenChanged(token: string | null): void;
  /** Asked when a restart is due: false leaves it to the next wake of the sandbox. */
  mayRestart(): boolean;
}

const BACKOFF_FIRST_MS = 1_000;
const BACKOFF_MAX_MS = 60_000;
/** A service that ran this long before crashing starts its backoff from the beginning again. */
const STABLE_AFTER_MS = 30_000;
/** The wrapper's first line on stderr: the service's pid inside the sandbox. */
const PID_LINE = /^burrow-service-pid (\d+)\n/;
/** How long a start waits for the process to exist inside before calling it running anyway. */
const START_WAIT_MS = 10_000;

export class ServiceProcess extends EventEmitter<{ event: [ServiceEvent] }> {
  status: ServiceStatus = 'stopped';
  pid: number | null = null;
  startedAt: Date | null = null;
  error: string | null = null;
  restartCount = 0;
  nextRestartAt: Date | null = null;
  private handle: SandboxProcessHandle | undefined;
  private exited: Promise<number> | undefined;
  private expectedExit = false;
  private backoffStep = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    public def: ServiceDefinition,
    private readonly deps: ServiceProcessDeps,
  ) {
    super();
    this.setMaxListeners(0);
  }

  get live(): boolean {
    return this.handle !== undefined;
  }

  async start(): Promise<void> {
    clearTimeout(this.restartTimer);
    this.nextRestartAt = null;
    if (this.handle || this.status === 'starting') return;
    this.status = 'starting';
    this.startedAt = null;
    this.expectedExit = false;
    let handle: SandboxProcessHandle;
    try {
      handle = await this.deps.launch(this.def);
    } catch (e) {
      this.status = 'failed';
      this.error = (e as Error).message;
      this.emitEvent({ type: 'error', data: this.error });
      throw e;
    }
    this.handle = handle;
    this.deps.tokenChanged(handle.token);
    // Running once its process exists inside (the wrapper reported the pid), so that services
    // that need this one start after it.
    const running = this.watch(handle);
    await Promise.race([running, new Promise((r) => setTimeout(r, START_WAIT_MS).unref())]);
    if (this.handle !== handle) return; // it exited already: `ended` said so
    this.status = 'running';
    this.error = null;
    this.startedAt = new Date();
    this.emitEvent({ type: 'started' });
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit code (null if it was not running). */
  async stop(timeoutMs: number): Promise<number | null> {
    clearTimeout(this.restartTimer);
    this.nextRestartAt = null;
    const { handle, exited } = this;
    if (!handle || !exited) {
      if (this.status === 'failed') this.status = 'stopped';
      return null;
    }
    this.expectedExit = true;
    this.status = 'stopping';
    this.emitEvent({ type: 'stopping' });
    await handle.signal('SIGTERM').catch(() => {});
    const timer = new Promise<null>((r) => setTimeout(() => r(null), timeoutMs).unref());
    const code = await Promise.race([exited, timer]);
    if (code !== null) return code;
    await handle.signal('SIGKILL').catch(() => {});
    return exited;
  }

  /** The sandbox is going cold: the process will end with it, and that is no crash. */
  sandboxStopping(): void {
    clearTimeout(this.restartTimer);
    this.nextRestartAt = null;
    this.expectedExit = true;
  }

  async signal(signal: NodeJS.Signals): Promise<void> {
    await this.handle?.signal(signal);
  }

  /** Forwards output as events; resolves once the wrapper reported the service's pid. */
  private watch(handle: SandboxProcessHandle): Promise<void> {
    const { child } = handle;
    let reported: () => void = () => {};
    const pidKnown = new Promise<void>((r) => (reported = r));
    child.stdin.end();
    child.stdout.on('data', (b: Buffer) => this.emitEvent({ type: 'stdout', data: b.toString() }));
    let head = '';
    let headDone = false;
    child.stderr.on('data', (b: Buffer) => {
      if (headDone) return this.emitEvent({ type: 'stderr', data: b.toString() });
      head += b.toString();
      const m = PID_LINE.exec(head);
      if (!m && head.length < 64 && !head.includes('\n')) return;
      headDone = true;
      if (m) this.pid = Number(m[1]);
      reported();
      const rest = m ? head.slice(m[0].length) : head;
      if (rest) this.emitEvent({ type: 'stderr', data: rest });
    });
    // Lost, not exited (a VM's channel to its guest closed): 'close' follows, as after an exit.
    child.on('error', (e) => this.emitEvent({ type: 'stderr', data: `burrow: ${e.message}\n` }));
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        const exitCode = exitCodeOf(code, signal);
        this.ended(exitCode);
        resolve(exitCode);
        reported();
      });
    });
    return pidKnown;
  }

  private ended(exitCode: number): void {
    const ranMs = this.startedAt ? Date.now() - this.startedAt.getTime() : 0;
    this.handle = undefined;
    this.exited = undefined;
    this.pid = null;
    this.deps.tokenChanged(null);
    this.emitEvent({ type: 'exit', exit_code: exitCode });
    if (this.expectedExit) {
      this.status = 'stopped';
      this.emitEvent({ type: 'stopped', exit_code: exitCode });
      return;
    }
    this.status = 'failed';
    this.error = `exited with code ${exitCode}`;
    if (ranMs >= STABLE_AFTER_MS) this.backoffStep = 0;
    const delay = Math.min(BACKOFF_FIRST_MS * 2 ** this.backoffStep, BACKOFF_MAX_MS);
    this.backoffStep++;
    this.nextRestartAt = new Date(Date.now() + delay);
    this.restartTimer = setTimeout(() => {
      this.nextRestartAt = null;
      if (this.handle || !this.deps.mayRestart()) return;
      this.restartCount++;
      this.start().catch(() => {}); // reported as an `error` event and in the state
    }, delay);
    this.restartTimer.unref();
  }

  private emitEvent(event: Omit<ServiceEvent, 'timestamp'>): void {
    this.emit('event', { ...event, timestamp: Date.now() });
  }
}
