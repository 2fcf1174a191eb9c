/**
 * `burrow sleep` and `burrow wake`: put a sandbox to sleep now (warm: frozen, memory kept; cold:
 * stopped, disk kept) or wake it now, instead of waiting for the idle timer or the next use.
 */
import type { Command } from 'commander';
import { clientFor } from '../client.js';
import { formatSeconds, renderJson } from '../output.js';

export function registerSleep(program: Command): void {
  program
    .command('sleep')
    .description('put a sandbox to sleep now: warm (frozen) or, with --cold, stopped')
    .argument('<name>')
    .option('--cold', 'stop it (disk kept, no memory used) instead of freezing it')
    .option('--json', 'print the sandbox as JSON')
    .action(async (name: string, options: { cold?: boolean; json?: boolean }, command: Command) => {
      const started = Date.now();
      const sprite = await clientFor(command).sandbox(name).sleep({ cold: options.cold ?? false });
      if (options.json) process.stdout.write(renderJson(sprite));
      else process.stdout.write(`${name} is ${sprite.status} (${formatSeconds(Date.now() - started)})\n`);
    });

  program
    .command('wake')
    .description('wake a sandbox now (any use wakes it too)')
    .argument('<name>')
    .option('--json', 'print the sandbox as JSON')
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      const started = Date.now();
      const sprite = await clientFor(command).sandbox(name).wake();
      if (options.json) process.stdout.write(renderJson(sprite));
      else process.stdout.write(`${name} is ${sprite.status} (${formatSeconds(Date.now() - started)})\n`);
    });
}
