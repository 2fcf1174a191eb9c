/**
 * `burrow import ARCHIVE NAME`: a new sandbox from an OCI image archive (`burrow export`,
 * `docker save`, `skopeo copy ... oci-archive:`), streamed from the file.
 */
import { createReadStream } from 'node:fs';
import { RUNTIMES, type Runtime } from '@burrow/protocol';
import { Option, type Command } from 'commander';
import { clientFor } from '../client.js';
import { formatSeconds } from '../output.js';

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('create a sandbox from an OCI image archive (linux/amd64, with /bin/sh and a `user` account)')
    .argument('<archive>', 'the archive file (- for stdin)')
    .argument('<name>', 'the new sandbox')
    .addOption(new Option('--runtime <runtime>', 'isolation of the new sandbox').choices(RUNTIMES))
    .action(async (archive: string, name: string, options: { runtime?: Runtime }, command: Command) => {
      const started = Date.now();
      const input = archive === '-' ? process.stdin : createReadStream(archive);
      const sandbox = await clientFor(command).importSandbox(name, input, { runtime: options.runtime });
      process.stdout.write(`imported ${archive} as ${sandbox.name} in ${formatSeconds(Date.now() - started)}\n`);
    });
}
