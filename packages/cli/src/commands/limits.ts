/** `burrow limits NAME [--cpus N] [--ram-mb N] [--storage-gb N] [--pids N]`: show or change limits. */
import type { Sprite } from '@burrow/protocol';
import type { Command } from 'commander';
import { clientFor } from '../client.js';
import { positiveInteger, positiveNumber } from '../options.js';
import { renderFields } from '../output.js';

interface LimitsOptions {
  cpus?: number;
  ramMb?: number;
  storageGb?: number;
  pids?: number;
}

export function registerLimits(program: Command): void {
  program
    .command('limits')
    .description('show or change the resource limits of a sandbox (applied at once when it runs)')
    .argument('<name>')
    .option('--cpus <n>', 'CPUs (fractions allowed)', positiveNumber)
    .option('--ram-mb <n>', 'memory in MB; over it a gVisor sandbox is killed and restarts on next use', positiveInteger)
    .option('--storage-gb <n>', 'disk in GB (checkpoints not counted)', positiveInteger)
    .option('--pids <n>', 'most processes and threads at once', positiveInteger)
    .action(async (name: string, options: LimitsOptions, command: Command) => {
      const sandbox = clientFor(command).sandbox(name);
      const config = {
        ...(options.cpus === undefined ? {} : { cpus: options.cpus }),
        ...(options.ramMb === undefined ? {} : { ram_mb: options.ramMb }),
        ...(options.storageGb === undefined ? {} : { storage_gb: options.storageGb }),
        ...(options.pids === undefined ? {} : { pids_limit: options.pids }),
      };
      const sprite = Object.keys(config).length ? await sandbox.updateLimits(config) : await sandbox.refresh();
      process.stdout.write(renderLimits(sprite));
    });
}

export function renderLimits(sprite: Sprite): string {
  const c = sprite.config;
  return renderFields([
    ['cpus', String(c.cpus)],
    ['memory', `${c.ram_mb} MB`],
    ['disk', `${c.storage_gb} GB`],
    ['processes', c.pids_limit === undefined ? undefined : String(c.pids_limit)],
  ]);
}
