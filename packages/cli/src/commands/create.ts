/** `burrow create`: a new sandbox, and how long it took to get one. */
import { IMAGE_NAMES, RUNTIMES, type ImageName, type Runtime } from '@burrow/protocol';
import type { CreateSandboxOptions } from '@burrow/sdk';
import { Option, type Command } from 'commander';
import { clientFor } from '../client.js';
import { collectEnv, positiveInteger, positiveNumber } from '../options.js';
import { describeRuntime, formatSeconds, renderJson } from '../output.js';

interface CreateOptions {
  runtime?: Runtime;
  image?: ImageName;
  cpus?: number;
  ramMb?: number;
  storageGb?: number;
  pids?: number;
  env?: Record<string, string>;
  warmAfter?: string;
  coldAfter?: string;
  json?: boolean;
}

export function registerCreate(program: Command): void {
  program
    .command('create')
    .description('create a sandbox')
    .argument('<name>', 'lowercase letters, digits and dashes')
    .addOption(new Option('--runtime <runtime>', 'gvisor (strong isolation), runc (faster, shares the host kernel) or vm (a QEMU microVM with its own kernel)').choices(RUNTIMES))
    .addOption(new Option('--image <image>', 'the base image').choices(IMAGE_NAMES))
    .option('--cpus <n>', 'CPU limit (fractions allowed)', positiveNumber)
    .option('--ram-mb <n>', 'memory limit in MB', positiveInteger)
    .option('--storage-gb <n>', 'disk limit in GB (checkpoints not counted)', positiveInteger)
    .option('--pids <n>', 'most processes and threads at once', positiveInteger)
    .option('--env <KEY=VALUE>', 'environment variable (repeatable)', collectEnv)
    .option('--warm-after <duration>', 'idle time before it is frozen, e.g. 30s, 5m, or off (default: the server\'s)')
    .option('--cold-after <duration>', 'time frozen before it is stopped, e.g. 10m, 1h, or off')
    .option('--json', 'print the sandbox as JSON')
    .action(async (name: string, options: CreateOptions, command: Command) => {
      const started = Date.now();
      const sandbox = await clientFor(command).createSandbox(name, createRequest(options));
      const elapsed = Date.now() - started;
      const info = sandbox.info;
      if (options.json) {
        process.stdout.write(renderJson(info));
        return;
      }
      process.stdout.write(`created ${sandbox.name} in ${formatSeconds(elapsed)} (${describeRuntime(info?.runtime, info?.isolation)})\n`);
      process.stdout.write(`status ${info?.status}, image ${info?.image}\n`);
    });
}

function createRequest(options: CreateOptions): CreateSandboxOptions {
  const config = {
    ...(options.cpus === undefined ? {} : { cpus: options.cpus }),
    ...(options.ramMb === undefined ? {} : { ram_mb: options.ramMb }),
    ...(options.storageGb === undefined ? {} : { storage_gb: options.storageGb }),
    ...(options.pids === undefined ? {} : { pids_limit: options.pids }),
  };
  return {
    ...(options.runtime ? { runtime: options.runtime } : {}),
    ...(options.image ? { image: options.image } : {}),
    ...(Object.keys(config).length > 0 ? { config } : {}),
    ...(options.env ? { environment: options.env } : {}),
    ...(options.warmAfter || options.coldAfter
      ? { sleep: { ...(options.warmAfter ? { warm_after: options.warmAfter } : {}), ...(options.coldAfter ? { cold_after: options.coldAfter } : {}) } }
      : {}),
  };
}
