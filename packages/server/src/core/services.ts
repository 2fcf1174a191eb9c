// Supervised services of every sandbox (spec §7). The daemon supervises them: each runs as a
// long-lived command through the sandbox's agent, as the sandbox user, its output appended to
// /.burrow/logs/services/<name>.log inside the sandbox and streamed to API clients. Wanted
// services start in `needs` order whenever the sandbox boots (create, cold wake, restart after a
// death); warm sleep freezes them with the box; a manual stop sticks until a start. After a
// daemon restart the old processes (whose output pipes died with the daemon) are killed by
// their recorded agent token and started afresh.
import type { ServiceSpec } from '@burrow/protocol';
import type { SandboxRecord } from '../db/sandboxes.js';
import type { ServiceDefinition, ServiceRecord, ServiceStore } from '../db/services.js';
import { SANDBOX_USER, type SandboxManager } from './sandbox-manager.js';
import type { SandboxHooks } from './sandbox-hooks.js';
import { DomainError, Conflict } from './errors.js';
import { ServiceProcess } from './service-process.js';

export const SERVICE_LOG_DIR = '/.burrow/logs/services';
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

export const logFileOf = (service: string) => `${SERVICE_LOG_DIR}/${service}.log`;

/** A log larger than this is set aside (one generation, `<name>.log.1`) when its service starts. */
export const LOG_ROTATE_BYTES = 8 << 20;

/**
 * Runs as root so the log stays the daemon's (the service cannot rewrite it), then becomes the
 * sandbox user. The first stderr line tells the daemon the service's pid ($$ survives `exec`).
 * A service that crash-loops or chatters cannot fill the disk with one log across its restarts.
 */
const WRAPPER = [
  'mkdir -p "$(dirname "$1")"',
  'echo "burrow-service-pid $$" >&2',
  'log=$1; shift',
  `if [ "$(stat -c %s -- "$log" 2>/dev/null || echo 0)" -gt ${LOG_ROTATE_BYTES} ]; then mv -f -- "$log" "$log.1"; fi`,
  'exec > >(exec tee -a "$log") 2> >(exec tee -a "$log" >&2)',
  `exec setpriv --reuid=${SANDBOX_USER.uid} --regid=${SANDBOX_USER.gid} --init-groups -- "$@"`,
].join('\n');

export interface ServicesDeps {
  manager: SandboxManager;
  store: ServiceStore;
  log: (line: string) => void;
}

export class Services {
  /** sandbox id -> service name -> its process. */
  private readonly procs = new Map<string, Map<string, ServiceProcess>>();

  constructor(private readonly deps: ServicesDeps) {}

  /** What the sandbox lifecycle tells the supervisor. */
  hooks(): SandboxHooks {
    return {
      diskCreated: async () => {},
      bootMounts: async () => ({}),
      tornDown: async (sandboxId) => {
        for (const proc of this.procs.get(sandboxId)?.values() ?? []) proc.sandboxStopping();
        this.procs.delete(sandboxId);
      },
      booted: (record) => this.startWanted(record.name),
      resumed: (record) => this.startWanted(record.name),
      stopping: (record) => {
        for (const proc of this.procs.get(record.id)?.values() ?? []) proc.sandboxStopping();
      },
    };
  }

  /** After a daemon start: services of running sandboxes run again (warm ones do on wake). */
  restartAfterDaemonStart(): void {
    for (const record of this.deps.manager.list()) {
      if (record.status === 'running' && this.deps.store.forSandbox(record.id).some((s) => s.wanted)) this.startWanted(record.name);
    }
  }

  list(name: string): Array<{ record: ServiceRecord; proc: ServiceProcess | undefined }> {
    const sandbox = this.deps.manager.get(name);
    return this.deps.store.forSandbox(sandbox.id).map((record) => ({ record, proc: this.procs.get(sandbox.id)?.get(record.name) }));
  }

  get(name: string, service: string): { record: ServiceRecord; proc: ServiceProcess | undefined } {
    const sandbox = this.deps.manager.get(name);
    const record = this.deps.store.get(sandbox.id, service);
    if (!record) throw new DomainError('not_found', `sandbox '${name}' has no service '${service}' (see \`burrow service list ${name}\`)`);
    return { record, proc: this.procs.get(sandbox.id)?.get(service) };
  }

  /** Creates or redefines a service and (re)starts it. Resolves with its process once launched. */
  async put(name: string, def: ServiceDefinition): Promise<ServiceProcess> {
    const sandbox = this.deps.manager.get(name);
    const problem = needsProblem(def, this.deps.store.forSandbox(sandbox.id), `sandbox '${name}'`);
    if (problem) throw new Conflict(problem);
    this.deps.store.put(sandbox.id, def);
    const existing = this.procs.get(sandbox.id)?.get(def.name);
    if (existing) {
      await existing.stop(DEFAULT_STOP_TIMEOUT_MS);
      existing.def = def;
    }
    return this.start(name, def.name);
  }

  /**
   * Stores the services a sandbox is created with (an import's), all wanted and none started:
   * its first boot starts them. It runs inside the create step, so a crash rolls the sandbox
   * back with its services instead of leaving it without them. Check them first (needsProblem).
   */
  defineForNewSandbox(sandboxId: string, defs: ServiceDefinition[]): void {
    for (const def of defs) this.deps.store.put(sandboxId, def);
  }

  /** Starts the service (its needs first) and marks it wanted again. */
  async start(name: string, service: string): Promise<ServiceProcess> {
    const { record } = this.get(name, service);
    const sandbox = await this.deps.manager.ensureRunning(name);
    this.deps.store.setWanted(sandbox.id, service, true);
    for (const need of record.needs) {
      const dependency = this.procOf(sandbox, this.get(name, need).record);
      if (!dependency.live) await this.start(name, need);
    }
    const proc = this.procOf(sandbox, record);
    await this.killStale(sandbox, record, proc);
    await proc.start();
    return proc;
  }

  /** Stops the service; it stays stopped (across wakes and restarts) until started again. */
  async stop(name: string, service: string, timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<{ proc: ServiceProcess; wasRunning: boolean }> {
    const { record } = this.get(name, service);
    const sandbox = this.deps.manager.get(name);
    this.deps.store.setWanted(sandbox.id, service, false);
    const proc = this.procOf(sandbox, record);
    const wasRunning = proc.live;
    if (wasRunning) await this.deps.manager.ensureRunning(name);
    await proc.stop(timeoutMs);
    return { proc, wasRunning };
  }

  async delete(name: string, service: string): Promise<void> {
    const { record } = this.get(name, service);
    const sandbox = this.deps.manager.get(name);
    const dependents = this.deps.store.forSandbox(sandbox.id).filter((s) => s.needs.includes(service));
    if (dependents.length) {
      throw new Conflict(`service '${service}' is needed by ${dependents.map((d) => `'${d.name}'`).join(', ')}; delete or redefine those first`);
    }
    const proc = this.procOf(sandbox, record);
    if (proc.live) await this.deps.manager.ensureRunning(name);
    await proc.stop(DEFAULT_STOP_TIMEOUT_MS);
    this.deps.store.delete(sandbox.id, service);
    this.procs.get(sandbox.id)?.delete(service);
  }

  async signal(name: string, service: string, signal: NodeJS.Signals): Promise<void> {
    const { proc } = this.get(name, service);
    if (!proc?.live) throw new Conflict(`service '${service}' is not running`);
    await this.deps.manager.ensureRunning(name);
    await proc.signal(signal);
  }

  /** The last `lines` lines of the service's log file inside the sandbox. */
  async tail(name: string, service: string, lines: number): Promise<string> {
    this.get(name, service);
    const handle = await this.deps.manager.exec(name, { args: ['tail', '-n', String(lines), '--', logFileOf(service)], asRoot: true });
    handle.child.stdin.end();
    const chunks: Buffer[] = [];
    handle.child.stdout.on('data', (b: Buffer) => chunks.push(b));
    handle.child.stderr.resume();
    await new Promise((resolve) => handle.child.on('close', resolve));
    return Buffer.concat(chunks).toString();
  }

  /** Starts every wanted service of the sandbox that is not running, in `needs` order. */
  private startWanted(name: string): void {
    const sandbox = this.deps.manager.get(name);
    const wanted = this.deps.store.forSandbox(sandbox.id).filter((s) => s.wanted);
    void (async () => {
      for (const record of inNeedsOrder(wanted)) {
        if (this.procs.get(sandbox.id)?.get(record.name)?.live) continue;
        await this.start(name, record.name).catch((e: Error) => this.deps.log(`service ${name}/${record.name}: ${e.message}`));
      }
    })();
  }

  private procOf(sandbox: SandboxRecord, record: ServiceRecord): ServiceProcess {
    let byName = this.procs.get(sandbox.id);
    if (!byName) this.procs.set(sandbox.id, (byName = new Map()));
    let proc = byName.get(record.name);
    if (!proc) {
      const name = sandbox.name;
      proc = new ServiceProcess(record, {
        launch: (def) =>
          this.deps.manager.exec(name, {
            args: ['bash', '-c', WRAPPER, 'burrow-service', logFileOf(def.name), def.cmd, ...def.args],
            envOverlay: def.env,
            cwd: def.dir ?? SANDBOX_USER.home,
            asRoot: true,
          }),
        tokenChanged: (token) => this.deps.store.setToken(sandbox.id, record.name, token),
        mayRestart: () => this.deps.manager.get(name).status === 'running',
      });
      byName.set(record.name, proc);
    }
    return proc;
  }

  /** A process a previous daemon started (its token is recorded, but nobody here supervises it). */
  private async killStale(sandbox: SandboxRecord, record: ServiceRecord, proc: ServiceProcess): Promise<void> {
    const token = this.deps.store.get(sandbox.id, record.name)?.token;
    if (!token || proc.live) return;
    await this.deps.manager.signalToken(sandbox.name, token, 'SIGKILL').catch(() => {});
    this.deps.store.setToken(sandbox.id, record.name, null);
  }
}

/** Dependencies before dependents; services needing unknown names come last. */
export function inNeedsOrder<T extends { name: string; needs: string[] }>(services: T[]): T[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const done = new Set<string>();
  const out: T[] = [];
  const visit = (s: T, path: Set<string>) => {
    if (done.has(s.name) || path.has(s.name)) return;
    path.add(s.name);
    for (const n of s.needs) {
      const dep = byName.get(n);
      if (dep) visit(dep, path);
    }
    done.add(s.name);
    out.push(s);
  };
  for (const s of services) visit(s, new Set());
  return out;
}

/** A service as the wire describes it (a PUT's body, an export's label), with its defaults filled in. */
export function definitionOf(name: string, spec: ServiceSpec): ServiceDefinition {
  return {
    name,
    cmd: spec.cmd,
    args: spec.args ?? [],
    env: spec.env ?? {},
    dir: spec.dir ?? null,
    needs: spec.needs ?? [],
    httpPort: spec.http_port ?? null,
  };
}

/**
 * Why `def` cannot join `services` (the set it would replace its namesake in), or null: a need
 * `holder` does not have, or a need that leads back to itself.
 */
export function needsProblem(def: ServiceDefinition, services: ServiceDefinition[], holder: string): string | null {
  const others = services.filter((s) => s.name !== def.name);
  const missing = def.needs.filter((n) => !others.some((s) => s.name === n));
  if (missing.length) return `service '${def.name}' needs ${missing.map((m) => `'${m}'`).join(', ')}, which ${holder} does not have`;
  if (cycleThrough(def, others)) return `service '${def.name}' would need itself through its needs`;
  return null;
}

function cycleThrough(def: ServiceDefinition, others: ServiceDefinition[]): boolean {
  const byName = new Map(others.map((s) => [s.name, s]));
  const seen = new Set<string>();
  const stack = [...def.needs];
  while (stack.length) {
    const n = stack.pop()!;
    if (n === def.name) return true;
    if (seen.has(n)) continue;
    seen.add(n);
    stack.push(...(byName.get(n)?.needs ?? []));
  }
  return false;
}
