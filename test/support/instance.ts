// A real `burrow serve` for integration tests: its own BURROW_HOME, pool and port, started
// through the CLI exactly as a user starts it, and purged from the host afterwards.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BurrowClient } from '@burrow/sdk';
import { loadConfig, purge, type BurrowConfig } from '@burrow/server';

export const REPO = resolve(import.meta.dirname, '../..');
export const CLI = join(REPO, 'packages/cli/bin/burrow.js');

/** One id per test run: every home and sandbox name of the run carries it. */
export const RUN_ID = `${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
let counter = 0;

export class BurrowInstance {
  readonly config: BurrowConfig;
  private proc: ChildProcess | undefined;
  url = '';
  log = '';

  private constructor(
    readonly home: string,
    readonly env: Record<string, string>,
  ) {
    this.config = loadConfig({ ...process.env, ...env });
  }

  /** A fresh instance (not yet started) with a unique home under /tmp. */
  static async create(extraEnv: Record<string, string> = {}): Promise<BurrowInstance> {
    return BurrowInstance.prepare(extraEnv);
  }

  /** The same as create(), at once: for useInstance(), which hands it out before any hook runs. */
  static prepare(extraEnv: Record<string, string> = {}): BurrowInstance {
    const home = `/tmp/burrow-test-${RUN_ID}-${counter++}`;
    mkdirSync(home, { recursive: true });
    return new BurrowInstance(home, {
      BURROW_HOME: home,
      BURROW_LISTEN: '127.0.0.1:0',
      BURROW_POOL_SIZE: '20G',
      BURROW_NET_POOL: testNetPool(home),
      // A sandbox status change that the lifecycle table does not allow fails the test.
      BURROW_STRICT_TRANSITIONS: '1',
      ...extraEnv,
    });
  }

  /** Starts `burrow serve` and resolves once it listens; `extraEnv` applies to this start only. */
  async start(extraEnv: Record<string, string> = {}): Promise<void> {
    const proc = spawn(process.execPath, [CLI, 'serve'], {
      env: { ...process.env, ...this.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.log = '';
    await new Promise<void>((resolveStart, reject) => {
      const onData = (b: Buffer) => {
        this.log += b.toString();
        const m = /listening on (http:\/\/[^\s"]+)/.exec(this.log);
        if (m) {
          this.url = m[1]!;
          resolveStart();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code, signal) =>
        reject(new Error(`burrow serve exited (${code ?? signal}) before listening:\n${this.log.slice(-3000)}`)),
      );
    });
  }

  /** The daemon's process id, while it runs. */
  get pid(): number {
    return this.proc?.pid ?? 0;
  }

  /** Resolves when the daemon process has exited (e.g. after a crash hook fired). */
  exited(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    return new Promise((r) => proc.once('exit', () => r()));
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const done = this.exited();
    proc.kill(signal);
    await done;
  }

  get token(): string {
    return readFileSync(join(this.home, 'admin.token'), 'utf8').trim();
  }

  /** One API request with the admin token; the body parsed as JSON when it is JSON, else text. */
  async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Prometheus text, NDJSON or empty
    }
    return { status: response.status, body: parsed as Record<string, unknown> };
  }

  client(): BurrowClient {
    return new BurrowClient({ baseURL: this.url, token: this.token });
  }

  /**
   * The runtime container a sandbox's current boot runs in (each boot gets its own id), for
   * baselines that call the runtime directly.
   */
  containerOf(sandboxId: string, runtime: 'gvisor' | 'runc' = 'gvisor'): string {
    const root = join(this.home, 'run', runtime);
    const binary = runtime === 'gvisor' ? 'runsc' : 'runc';
    const listed = JSON.parse(execFileSync(binary, ['--root', root, 'list', '--format', 'json'], { encoding: 'utf8' }) || '[]') as
      | Array<{ id: string; status: string }>
      | null;
    const found = (listed ?? []).find((c) => c.id.startsWith(`${sandboxId}-`) && c.status === 'running');
    if (!found) throw new Error(`no running ${runtime} container for sandbox ${sandboxId}`);
    return found.id;
  }

  /** Environment for running the CLI against this instance. */
  cliEnv(): Record<string, string> {
    return { ...this.env, BURROW_API: this.url, BURROW_TOKEN: this.token };
  }

  /** Runs the CLI against this instance, `input` on its stdin; resolves with how it ended. */
  /**
   * Runs the CLI against this instance.
   * @param input what the CLI reads on stdin
   * @param env variables set over the instance's own (another token, say)
   */
  cli(args: string[], { input = '', env = {} }: { input?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...this.cliEnv(), ...env } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b));
      child.stderr.on('data', (b: Buffer) => (stderr += b));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(input);
    });
  }

  /** Stops the daemon and removes everything the instance made on the host. */
  async destroy(): Promise<void> {
    await this.stop('SIGKILL').catch(() => {});
    await purge(this.config);
  }
}

/**
 * A /22 (256 sandboxes) of 10.128.0.0/10 picked from the home, so that instances running side by
 * side (other test files, other checkouts) do not route the same addresses.
 */
function testNetPool(home: string): string {
  const n = createHash('sha256').update(home).digest().readUInt32BE(0) % 4096;
  return `10.${128 + (n >> 6)}.${(n & 63) << 2}.0/22`;
}

/** A sandbox name unique to this test run. */
export function sandboxName(label: string): string {
  return `t${RUN_ID}-${label}`.slice(0, 63).replace(/-+$/, '');
}
