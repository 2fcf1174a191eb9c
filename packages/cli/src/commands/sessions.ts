/**
 * `burrow sessions`: the detachable sessions of a sandbox. List them, attach to one (on this
 * terminal when it has one, else just its output), or kill one.
 */
import type { KillEvent } from '@burrow/protocol';
import type { Command } from 'commander';
import { followOutput, leave } from '../attachment.js';
import { clientFor } from '../client.js';
import { formatAge, renderJson, renderTable } from '../output.js';
import { bridgeTerminal, isInteractive, localTerminal } from '../terminal.js';

export function registerSessions(program: Command): void {
  const sessions = program.command('sessions').description('list, attach to and kill the detachable sessions of a sandbox');

  sessions
    .command('list')
    .alias('ls')
    .description("list a sandbox's sessions, running and recently ended")
    .argument('<name>', 'the sandbox')
    .option('--json', 'print a JSON array for scripts')
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      const list = await clientFor(command).sandbox(name).listSessions();
      if (options.json) {
        process.stdout.write(renderJson(list));
        return;
      }
      if (list.length === 0) {
        process.stdout.write(`no sessions in ${name}: start one with \`burrow console ${name}\`\n`);
        return;
      }
      const now = new Date();
      const active = (isActive: boolean, exitCode: number | null | undefined): string =>
        isActive ? 'yes' : typeof exitCode === 'number' ? `no (exit ${exitCode})` : 'no';
      process.stdout.write(
        renderTable(
          ['ID', 'COMMAND', 'TTY', 'ACTIVE', 'CREATED'],
          list.map((s) => [s.id, s.command, s.tty ? 'yes' : 'no', active(s.is_active, s.exit_code), formatAge(s.created, now)]),
        ),
      );
    });

  sessions
    .command('attach')
    .description('attach to a session: its recent output, then live; Ctrl+\\ detaches again')
    .argument('<name>', 'the sandbox')
    .argument('<id>', 'the session, as `burrow sessions list` shows it')
    .action(async (name: string, id: string, _options: unknown, command: Command) => {
      const handle = await clientFor(command).sandbox(name).attachSession(id);
      const local = localTerminal();
      const outcome = handle.tty
        ? await bridgeTerminal(handle, { detachKey: true, sendSize: true, ctrlDAtEnd: false, hangupOnLeave: false }, local)
        : await followOutput(handle);
      await leave(outcome, { sandbox: name, sessionId: handle.sessionId, detachable: true, interactive: handle.tty && isInteractive(local) });
    });

  sessions
    .command('kill')
    .description('signal a session and wait for it to end, with SIGKILL after the timeout')
    .argument('<name>', 'the sandbox')
    .argument('<id>', 'the session')
    .option('--signal <signal>', 'the signal to send first', 'SIGTERM')
    .option('--timeout <duration>', 'how long to wait before SIGKILL, e.g. 10s', '10s')
    .action(async (name: string, id: string, options: { signal: string; timeout: string }, command: Command) => {
      const code = await clientFor(command)
        .sandbox(name)
        .killSession(id, { signal: options.signal, timeout: options.timeout, onEvent: (event) => report(event) });
      process.stdout.write(`session ${id} exited with code ${code}\n`);
    });
}

/** Progress on stderr, so stdout holds only the result; the exit itself is the result. */
function report(event: KillEvent): void {
  if (event.type === 'exited' || event.type === 'complete') return;
  const fallback: Record<string, string> = {
    signal: `sent ${event.signal ?? 'the signal'}`,
    timeout: 'still running after the timeout',
    killed: `sent ${event.signal ?? 'SIGKILL'}`,
    error: 'the server reported an error',
  };
  const line = event.message ?? fallback[event.type];
  if (line) process.stderr.write(`${line}\n`);
}
