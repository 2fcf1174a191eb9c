/** `burrow destroy`: deletes a sandbox and its disk. */
import type { Command } from 'commander';
import { clientFor } from '../client.js';

export function registerDestroy(program: Command): void {
  program
    .command('destroy')
    .alias('rm')
    .description('destroy a sandbox, its disk and its checkpoints')
    .argument('<name>')
    .action(async (name: string, _options: object, command: Command) => {
      await clientFor(command).deleteSandbox(name);
      process.stdout.write(`destroyed ${name}\n`);
    });
}
