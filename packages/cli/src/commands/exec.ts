/**
 * `burrow exec`: runs one command in a sandbox as if it ran here: output streams through with
 * backpressure, piped stdin flows in, Ctrl-C reaches the command, and its exit code is ours.
 */
import type { SandboxProcess } from '@burrow/sdk';
import type { Command } from 'commander';
import { clientFor } from '../client.js';
import { reportFailure } from '../failure.js';
import { collectEnv, collectFileSpec } from '../options.js';
import { flushed, relay } from '../relay.js';
import { upload } from '../transfer.js';

interface ExecOptions {
  env?: Record<string, string>;
  dir?: string;
  file?: Array<{ source: string; dest: string }>;
}

export function registerExec(program: Command): void {
  program
    .command('exec')
    .description('run a command in a sandbox (no TTY; stdin is passed through when it is not a terminal)')
    .argument('<name>', 'the sandbox')
    .argument('<command...>', 'the command and its arguments (put `--` before them)')
    .option('--env <KEY=VALUE>', 'environment variable (repeatable); replaces the default environment', collectEnv)
    .option('--dir <dir>', 'working directory (default: the home directory)')
    .option('--file <local:path>', 'upload a local file or directory to path in the sandbox first (repeatable)', collectFileSpec)
    .showHelpAfterError('(put `--` before the command when it has options: burrow exec <name> -- <command> [args...])')
    .action(async (name: string, argv: string[], options: ExecOptions, command: Command) => {
      const [cmd = '', ...args] = argv;
      const sandbox = clientFor(command).sandbox(name);
      for (const { source, dest } of options.file ?? []) {
        // Exactly at dest (no cp-style "into an existing directory"); relative to where the command runs.
        await upload(sandbox, source, dest.startsWith('/') ? dest : `${options.dir ?? '/home/user'}/${dest}`, { exact: true });
      }
      // A terminal on stdin means a person, not input: reading it would hang until Ctrl-D.
      const pipeStdin = !process.stdin.isTTY;
      const child = sandbox.spawn(cmd, args, {
        ...(options.env ? { env: options.env } : {}),
        ...(options.dir ? { cwd: options.dir } : {}),
        stdin: pipeStdin,
      });
      if (pipeStdin) process.stdin.pipe(child.stdin);

      forwardSignals(child);
      // Output nobody can read stops the command, as SIGPIPE would stop a local one.
      const onBroken = (err: NodeJS.ErrnoException): void => {
        child.kill('SIGTERM');
        if (err.code !== 'EPIPE') reportFailure(new Error(`cannot write the command's output: ${err.message}`));
      };
      const relayed = Promise.all([relay(child.stdout, process.stdout, onBroken), relay(child.stderr, process.stderr, onBroken)]);
      const outcome = await child.wait().then(
        (code) => ({ code }),
        (err: unknown) => ({ err }),
      );
      // The streams end on exit and on failure alike; what arrived is still shown.
      await relayed;
      await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
      if ('err' in outcome) reportFailure(outcome.err);
      // Exit here rather than when the event loop drains: stdin may be an open pipe nobody closes.
      process.exit('err' in outcome ? 1 : outcome.code);
    });
}

/** Ctrl-C and kill go to the remote command; a second Ctrl-C gives up on it. */
function forwardSignals(child: SandboxProcess): void {
  let interrupted = false;
  const onInterrupt = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    child.kill('SIGINT');
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', (): void => child.kill('SIGTERM'));
}
