/** `burrow events NAME [--follow]`: what happened to a sandbox, and what happens next. */
import type { SandboxEventWire } from '@burrow/protocol';
import type { Command } from 'commander';
import { clientFor } from '../client.js';
import { positiveInteger } from '../options.js';
import { renderJson } from '../output.js';

interface EventsOptions {
  follow?: boolean;
  limit?: number;
  json?: boolean;
}

export function registerEvents(program: Command): void {
  program
    .command('events')
    .description('show the event log of a sandbox (created, woke, slept, checkpointed, oom_killed, ...)')
    .argument('<name>')
    .option('-f, --follow', 'keep printing new events until Ctrl-C')
    .option('-n, --limit <n>', 'how many of the newest events to show first (default 100)', positiveInteger)
    .option('--json', 'one JSON object per line')
    .action(async (name: string, options: EventsOptions, command: Command) => {
      const sandbox = clientFor(command).sandbox(name);
      const print = (e: SandboxEventWire) => process.stdout.write(options.json ? JSON.stringify(e) + '\n' : renderEvent(e));
      const query = options.limit === undefined ? {} : { limit: options.limit };
      if (!options.follow) {
        const events = await sandbox.events(query);
        if (options.json) process.stdout.write(renderJson(events));
        else events.forEach(print);
        return;
      }
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      for await (const event of sandbox.followEvents({ ...query, signal: stop.signal })) print(event);
    });
}

/** `2025-01-31 12:00:00  created       created (gvisor, dev; ...)` */
export function renderEvent(e: SandboxEventWire): string {
  const time = e.time.replace('T', ' ').replace(/\.\d+Z$/, '');
  return `${time}  ${e.type.padEnd(14)}  ${e.message}\n`;
}
