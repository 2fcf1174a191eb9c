/**
 * `burrow console`: a shell in a sandbox on this terminal. It runs as a detachable session, so
 * Ctrl+\ (or a dropped connection) leaves it running for `burrow sessions attach`.
 */
import type { TerminalProcess } from '@burrow/sdk';
import type { Command } from 'commander';
import { leave } from '../attachment.js';
import { clientFor } from '../client.js';
import { collectEnv } from '../options.js';
import { bridgeTerminal, isInteractive, localTerminal } from '../terminal.js';

/** A login shell: /etc/profile and ~/.profile run, as on an ssh login. */
export const DEFAULT_SHELL = ['bash', '-l'];

interface ConsoleOptions {
  detachable: boolean;
  env?: Record<string, string>;
  dir?: string;
  maxRunAfterDisconnect?: string;
}

export function registerConsole(program: Command): void {
  program
    .command('console')
    .description('open a shell (or run a command) on a terminal in a sandbox; Ctrl+\\ detaches and leaves it running')
    .argument('<name>', 'the sandbox')
    .argument('[command...]', `the command and its arguments (default: ${DEFAULT_SHELL.join(' ')}); put \`--\` before them`)
    .option('--detachable', 'run as a session that outlives this console', true)
    .option('--no-detachable', 'hang up the command (SIGHUP) when this console closes; Ctrl+\\ then goes to the command')
    .option('--max-run-after-disconnect <duration>', 'how long the session may run with nobody attached, e.g. 30m (default: forever)')
    .option('--env <KEY=VALUE>', 'environment variable (repeatable); replaces the default environment', collectEnv)
    .option('--dir <dir>', 'working directory (default: the home directory)')
    .showHelpAfterError('(put `--` before the command when it has options: burrow console <name> -- <command> [args...])')
    .action(async (name: string, argv: string[], options: ConsoleOptions, command: Command) => {
      const [cmd = '', ...args] = argv.length > 0 ? argv : DEFAULT_SHELL;
      const local = localTerminal();
      // Without a terminal of our own the server's default size (24x80) is as good as any.
      const size = local.sized ? { rows: local.sized.rows, cols: local.sized.columns } : {};
      const common = { ...(options.env ? { env: options.env } : {}), ...(options.dir ? { cwd: options.dir } : {}) };
      const sandbox = clientFor(command).sandbox(name);

      let handle: TerminalProcess;
      if (options.detachable) {
        handle = await sandbox.createSession(cmd, args, {
          ...common,
          ...size,
          ...(options.maxRunAfterDisconnect ? { maxRunAfterDisconnect: options.maxRunAfterDisconnect } : {}),
        });
      } else {
        handle = sandbox.spawn(cmd, args, { ...common, tty: size });
      }

      const outcome = await bridgeTerminal(
        handle,
        { detachKey: options.detachable, sendSize: false, ctrlDAtEnd: true, hangupOnLeave: !options.detachable },
        local,
      );
      await leave(outcome, { sandbox: name, sessionId: handle.sessionId, detachable: options.detachable, interactive: isInteractive(local) });
    });
}
