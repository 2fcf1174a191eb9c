// The one way burrow shells out: argument arrays only (never a shell string), and every failure
// carries the command line, its exit code and its stderr so that the error can be acted upon.
import { spawn, type SpawnOptions } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';

export interface RunOptions {
  /** Bytes written to the child's stdin, then closed. */
  input?: string | Uint8Array;
  /** Extra environment, merged over process.env. */
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
  /** Exit codes that count as success besides 0. */
  okCodes?: number[];
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly code: number | null,
    readonly stderr: string,
    readonly signal: NodeJS.Signals | null = null,
  ) {
    const how = signal ? `was killed by ${signal}` : `exited ${code}`;
    const detail = stderr.trim().split('\n').slice(-5).join(' | ');
    super(`${argv.join(' ')} ${how}${detail ? `: ${detail}` : ''}`);
    this.name = 'CommandError';
  }
}

/** Runs a program to completion and returns its output; rejects with CommandError on failure. */
export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = {
      cwd: opts.cwd,
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs,
      killSignal: 'SIGKILL',
    };
    const child = spawn(file, args, spawnOpts);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    child.on('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ENOENT' ? `${file} is not installed (run \`burrow doctor --fix\`)` : e.message;
      reject(new CommandError([file, ...args], null, why));
    });
    child.on('close', (code, signal) => {
      const result = { code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (code === 0 || (code !== null && opts.okCodes?.includes(code))) resolve(result);
      else reject(new CommandError([file, ...args], code, result.stderr || result.stdout, signal));
    });
  });
}

/** Like run, but reports failure as a boolean: for probes whose failure is an answer, not an error. */
export async function succeeds(file: string, args: readonly string[], opts: RunOptions = {}): Promise<boolean> {
  try {
    await run(file, args, opts);
    return true;
  } catch (e) {
    if (e instanceof CommandError) return false;
    throw e;
  }
}

/**
 * For programs that leave a daemon behind (`runsc run --detach`): that daemon inherits stdio, so
 * pipes would never close. Output goes to `logFile` instead, and is read back only on failure.
 */
export async function runDetached(file: string, args: readonly string[], logFile: string, timeoutMs = 60_000): Promise<void> {
  const log = await open(logFile, 'w', 0o600);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(file, args, { stdio: ['ignore', log.fd, log.fd], timeout: timeoutMs, killSignal: 'SIGKILL' });
      child.on('error', (e) => reject(new CommandError([file, ...args], null, e.message)));
      child.on('exit', (code, signal) => {
        if (code === 0) return resolve();
        readFile(logFile, 'utf8').then(
          (text) => reject(new CommandError([file, ...args], code, text, signal)),
          () => reject(new CommandError([file, ...args], code, '', signal)),
        );
      });
    });
  } finally {
    await log.close();
  }
}

/**
 * Runs a probe in its own process group and kills the whole group if it hangs: a hung
 * `runsc do` leaves sandbox processes behind that killing runsc alone would orphan.
 */
export function probeSucceeds(file: string, args: string[], timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: 'ignore', detached: true });
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('error', () => resolve(false));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
  });
}
