/**
 * `burrow restart`, `burrow kill` and `burrow check`: reboot a sandbox on its disk (every process
 * ends, services start again), end its processes without a reboot (what stops a fork bomb), and
 * ask whether it is alive without waking it.
 */
import type { Command } from 'commander';
import { clientFor } from '../client.js';
import { formatSeconds, renderJson } from '../output.js';

/** Check results a script should treat as failure. */
const UNWELL = new Set(['unhealthy', 'failed']);

export function registerRestart(program: Command): void {
  program
    .command('restart')
    .description('reboot a sandbox on its disk: processes and sessions end, services start again (wakes a sleeping one)')
    .argument('<name>')
    .option('--json', 'print the answer as JSON')
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      const started = Date.now();
      const result = await clientFor(command).sandbox(name).restart();
      if (options.json) process.stdout.write(renderJson(result));
      else process.stdout.write(`${name} restarted (${formatSeconds(Date.now() - started)})\n`);
    });

  program
    .command('kill')
    .description('end every process in a sandbox but its init, without starting anything in it (works at its process limit, e.g. on a fork bomb); services start again')
    .argument('<name>')
    .option('--json', 'print the answer as JSON')
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      const result = await clientFor(command).sandbox(name).killProcesses();
      if (options.json) process.stdout.write(renderJson(result));
      else process.stdout.write(`${name}: ${result.message}\n`);
    });

  program
    .command('check')
    .description('probe a running sandbox; a warm or cold one is reported, not woken (exits 1 when unhealthy or failed)')
    .argument('<name>')
    .option('--json', 'print the answer as JSON')
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      const check = await clientFor(command).sandbox(name).check();
      if (options.json) process.stdout.write(renderJson(check));
      else {
        const elapsed = check.elapsed === undefined ? '' : ` (probe ${check.elapsed} ms)`;
        process.stdout.write(`${name}: ${check.status}${elapsed}${check.reason ? `: ${check.reason}` : ''}\n`);
      }
      if (UNWELL.has(check.status)) process.exitCode = 1;
    });
}
