/**
 * Copying between this machine and a sandbox, for `burrow cp` and `burrow exec --file`. A file
 * goes through the filesystem API (streamed both ways). A directory goes as one tar stream
 * through exec (`tar -x` / `tar -c` in the sandbox, ./tar.ts here): one request instead of one
 * per file, which matters when every request starts a process in the sandbox.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, rm, stat } from 'node:fs/promises';
import { basename, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isFsError, type FsEntry, type Sandbox } from '@burrow/sdk';
import { extract, pack } from './tar.js';

export interface TransferOptions {
  /** Act as root in the sandbox (read root-only files, write root-owned places). */
  asRoot?: boolean;
  /** Progress and warnings for the user. */
  log?: (line: string) => void;
}

export interface UploadOptions extends TransferOptions {
  /** Put the copy at `dest` itself even when that is an existing directory (a tree is merged into it). */
  exact?: boolean;
}

export interface Transferred {
  /** Where the copy ended up. */
  target: string;
  files: number;
  bytes: number;
}

/**
 * Copies the local `source` to `dest` in the sandbox, like `cp -r`: into `dest` when that is an
 * existing directory (or ends with `/`), as `dest` otherwise.
 */
export async function upload(sandbox: Sandbox, source: string, dest: string, options: UploadOptions = {}): Promise<Transferred> {
  const log = options.log ?? (() => {});
  const fs = sandbox.fs.with({ asRoot: options.asRoot ?? false });
  const local = await stat(source);
  const into = !options.exact && (dest.endsWith('/') || (await remoteEntry(sandbox, dest, options.asRoot ?? false))?.type === 'directory');
  const target = into ? posix.join(dest, basename(source)) : dest;

  if (!local.isDirectory()) {
    await fs.writeFile(target, createReadStream(source), { mode: local.mode & 0o777, mkdirParents: true });
    return { target, files: 1, bytes: local.size };
  }
  const make = await run(sandbox, options.asRoot, ['mkdir', '-p', '--', target]);
  if (make.code !== 0) throw new Error(`cannot create ${target} in ${sandbox.name}: ${make.stderr.trim()}`);
  let files = 0;
  let bytes = 0;
  const archive = pack(source, {
    warn: log,
    onFile: (size) => {
      files++;
      bytes += size;
    },
  });
  const child = sandbox.spawn(...command(options.asRoot, ['tar', '-x', '-f', '-', '-C', target, '--no-same-owner']), { stdin: true });
  const stderr = collect(child.stderr);
  child.stdout.resume();
  await pipeline(archive, child.stdin);
  const code = await child.wait();
  if (code !== 0) throw new Error(`unpacking into ${target} in ${sandbox.name} failed: ${(await stderr).trim()}`);
  return { target, files, bytes };
}

/**
 * Copies `source` in the sandbox to the local `dest`, like `cp -r`: into `dest` when that is an
 * existing directory, as `dest` otherwise. Directories arrive as a tar stream that can only
 * write below the destination (see ./tar.ts).
 */
export async function download(sandbox: Sandbox, source: string, dest: string, options: TransferOptions = {}): Promise<Transferred> {
  const log = options.log ?? (() => {});
  const fs = sandbox.fs.with({ asRoot: options.asRoot ?? false });
  const entry = await fs.stat(source);
  const local = await stat(dest).catch(() => null);
  const target = local?.isDirectory() ? `${dest.replace(/\/+$/, '')}/${posix.basename(source.replace(/\/+$/, '')) || 'root'}` : dest;
  const isDirectory = entry.type === 'directory' || (entry.type === 'symlink' && (await remoteIsDirectory(fs, source)));

  if (!isDirectory) {
    const existed = await lstat(target).then(
      () => true,
      () => false,
    );
    try {
      await pipeline(fs.readStream(source), createWriteStream(target, { mode: parseInt(entry.mode, 8) & 0o777 }));
    } catch (err) {
      if (!existed) await rm(target, { force: true }); // no empty or partial file left for a failed copy
      throw err;
    }
    return { target, files: 1, bytes: (await lstat(target)).size };
  }
  await mkdir(target, { recursive: true });
  const child = sandbox.spawn(...command(options.asRoot, ['tar', '-c', '-f', '-', '--format=pax', '-C', source, '.']), { stdin: false });
  const stderr = collect(child.stderr);
  let result: Awaited<ReturnType<typeof extract>>;
  try {
    result = await extract(child.stdout as AsyncIterable<Buffer>, target);
  } catch (err) {
    child.kill('SIGKILL');
    await child.wait().catch(() => {});
    throw err;
  }
  const code = await child.wait();
  if (code !== 0) throw new Error(`archiving ${source} in ${sandbox.name} failed: ${(await stderr).trim()}`);
  for (const skipped of result.skipped) log(`skipped ${skipped}`);
  return { target, files: result.files, bytes: result.bytes };
}

/** The sandbox entry at `path`, or null when there is none. */
async function remoteEntry(sandbox: Sandbox, path: string, asRoot: boolean): Promise<FsEntry | null> {
  try {
    return await sandbox.fs.with({ asRoot }).stat(path);
  } catch (err) {
    if (isFsError(err) && err.code === 'ENOENT') return null;
    throw err;
  }
}

/** Whether a symlink in the sandbox leads to a directory. */
async function remoteIsDirectory(fs: Sandbox['fs'], path: string): Promise<boolean> {
  try {
    await fs.readdir(`${path.replace(/\/+$/, '')}/`);
    return true;
  } catch {
    return false;
  }
}

function command(asRoot: boolean | undefined, argv: string[]): [string, string[]] {
  const full = asRoot ? ['sudo', ...argv] : argv;
  return [full[0]!, full.slice(1)];
}

async function run(sandbox: Sandbox, asRoot: boolean | undefined, argv: string[]) {
  const [cmd, args] = command(asRoot, argv);
  const r = await sandbox.exec(cmd, args);
  return { code: r.exitCode, stderr: r.stderr };
}

async function collect(stream: AsyncIterable<unknown>): Promise<string> {
  let text = '';
  for await (const chunk of stream) if (text.length < 64 * 1024) text += String(chunk);
  return text;
}
