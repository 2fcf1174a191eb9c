/**
 * `burrow cp`: copies files and directories between this machine and a sandbox, in either
 * direction. One side is `NAME:PATH`; relative sandbox paths are relative to the home directory.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { clientFor } from '../client.js';
import { formatBytes } from '../output.js';
import { download, upload } from '../transfer.js';

const SANDBOX_HOME = '/home/user';

/** `dev:/path` or `dev:path`; a local path that looks like one can be written `./dev:x`. */
export function parseRemote(spec: string): { name: string; path: string } | null {
  const m = /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?):(.*)$/.exec(spec);
  if (!m) return null;
  const path = m[2] || '.';
  return { name: m[1]!, path: path.startsWith('/') ? path : `${SANDBOX_HOME}/${path}` };
}

interface CpOptions {
  root?: boolean;
  quiet?: boolean;
}

export function registerCp(program: Command): void {
  program
    .command('cp')
    .description('copy files or directories between this machine and a sandbox (NAME:PATH names the sandbox side)')
    .argument('<source>', 'local path, or NAME:PATH in a sandbox')
    .argument('<dest>', 'local path, or NAME:PATH in a sandbox')
    .option('--root', 'act as root in the sandbox (default: the sandbox user, whose permissions apply)')
    .option('-q, --quiet', 'print nothing on success')
    .addHelpText(
      'after',
      '\nexamples:\n  burrow cp ./src dev:/home/user/src     upload a directory\n  burrow cp dev:/var/log/app.log .       download a file here\n' +
        '\nDirectories travel as one tar stream; files through the filesystem API. An existing\n' +
        'destination directory receives the source inside it, as with cp -r.',
    )
    .action(async (source: string, dest: string, options: CpOptions, command: Command) => {
      const from = parseRemote(source);
      const to = parseRemote(dest);
      if (from && to) throw new InvalidArgumentError('copy between two sandboxes through this machine, in two steps');
      if (!from && !to) throw new InvalidArgumentError('one side must be in a sandbox, written NAME:PATH (e.g. dev:/home/user/x)');
      const client = clientFor(command);
      const log = (line: string) => process.stderr.write(`burrow: ${line}\n`);
      const transferOptions = { asRoot: options.root ?? false, log };
      const done = to
        ? await upload(client.sandbox(to.name), source, to.path, transferOptions)
        : await download(client.sandbox(from!.name), from!.path, dest, transferOptions);
      if (!options.quiet) {
        const where = to ? `${to.name}:${done.target}` : done.target;
        process.stderr.write(`${done.files} file${done.files === 1 ? '' : 's'}, ${formatBytes(done.bytes)} -> ${where}\n`);
      }
    });
}
