/** `burrow list`: every sandbox, as a table or as JSON. */
import type { Command } from 'commander';
import { clientFor } from '../client.js';
import { formatAge, renderJson, renderTable } from '../output.js';

export function registerList(program: Command): void {
  program
    .command('list')
    .alias('ls')
    .description('list sandboxes')
    .option('--prefix <prefix>', 'only sandboxes whose name starts with this')
    .option('--json', 'print a JSON array for scripts')
    .action(async (options: { prefix?: string; json?: boolean }, command: Command) => {
      const sprites = await clientFor(command).listSandboxes(options.prefix ? { prefix: options.prefix } : {});
      if (options.json) {
        process.stdout.write(renderJson(sprites));
        return;
      }
      if (sprites.length === 0) {
        process.stdout.write(options.prefix ? `no sandboxes starting with '${options.prefix}'\n` : 'no sandboxes yet: try `burrow create dev`\n');
        return;
      }
      const now = new Date();
      process.stdout.write(
        renderTable(
          ['NAME', 'STATUS', 'RUNTIME', 'IMAGE', 'CREATED'],
          sprites.map((s) => [s.name, s.status, s.runtime ?? '-', s.image ?? '-', formatAge(s.created_at, now)]),
        ),
      );
    });
}
