/** `burrow serve`: runs the daemon in the foreground until SIGINT or SIGTERM. */
import { adminTokenPath } from '@burrow/sdk';
import type { Command } from 'commander';
import { loadServer } from '../server-module.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the burrow daemon in the foreground (as root, on the sandbox host)')
    .action(async () => {
      const server = await loadServer();
      const config = server.loadConfig(process.env);
      const running = await server.serve(config);
      const log = running.log;
      log(`admin token: ${adminTokenPath(process.env)} (the CLI on this host reads it; elsewhere set BURROW_TOKEN)`);
      log('try: burrow create dev && burrow exec dev -- uname -a    (Ctrl-C stops the daemon; sandboxes keep running)');

      let stopping = false;
      const stop = (signal: NodeJS.Signals): void => {
        // A second signal means the clean shutdown is stuck: leave at once.
        if (stopping) process.exit(1);
        stopping = true;
        log(`${signal}: stopping burrow`);
        running.close().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`burrow: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}
