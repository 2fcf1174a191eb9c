/** `burrow doctor`: checks (and with --fix, repairs) what this host needs to run sandboxes. */
import type { Command } from 'commander';
import { loadServer } from '../server-module.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check that this host can run burrow sandboxes')
    .option('--fix', 'install missing host packages with apt-get (Debian and Ubuntu, as root)', false)
    .action(async (options: { fix: boolean }) => {
      const server = await loadServer();
      const config = server.loadConfig(process.env);
      const log = (line: string): void => void process.stdout.write(`${line}\n`);
      const { ok, problems } = await server.doctor(config, { fix: options.fix, log });
      if (ok) {
        log('this host is ready for burrow');
        return;
      }
      for (const problem of problems) process.stdout.write(`problem: ${problem}\n`);
      if (!options.fix) log('run `burrow doctor --fix` to repair what can be repaired');
      process.exitCode = 1;
    });
}
