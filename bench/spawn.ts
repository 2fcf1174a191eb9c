// Running a host program to completion the way burrow's runtime driver does (stdin, stdout and
// stderr all pipes: `runsc exec` writes nothing to a regular file), collecting its output.
import { spawn } from 'node:child_process';

export interface HostRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runOnHost(
  file: string,
  args: readonly string[],
  options: { cwd?: string; input?: string | Uint8Array } = {},
): Promise<HostRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {});
    child.stdin.end(options.input);
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}

/** Like {@link runOnHost}, but a non-zero exit is an error carrying the command and its stderr. */
export async function runOnHostOk(file: string, args: readonly string[], options: { cwd?: string; input?: string | Uint8Array } = {}): Promise<HostRun> {
  const r = await runOnHost(file, args, options);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(-1000)}`);
  return r;
}
