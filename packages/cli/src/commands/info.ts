/** `burrow info`: everything known about one sandbox. */
import type { Sprite } from '@burrow/protocol';
import type { Command } from 'commander';
import { clientFor } from '../client.js';
import { formatTimestamp, renderFields, renderJson } from '../output.js';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show a sandbox')
    .argument('<name>')
    .option('--json', 'print the sandbox as JSON')
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      const sprite = await clientFor(command).sandbox(name).refresh();
      process.stdout.write(options.json ? renderJson(sprite) : renderSprite(sprite));
    });
}

export function renderSprite(sprite: Sprite, now: Date = new Date()): string {
  const { config } = sprite;
  return renderFields([
    ['name', sprite.name],
    ['id', sprite.id],
    ['status', sprite.condition === 'pids_exhausted' ? `${sprite.status}, at its process limit (nothing new can start: \`burrow kill ${sprite.name}\`)` : sprite.status],
    ['failure', sprite.failure_reason ?? undefined],
    ['runtime', sprite.runtime],
    ['isolation', sprite.isolation],
    ['image', sprite.image],
    ['cpus', config?.cpus === undefined ? undefined : String(config.cpus)],
    ['memory', config?.ram_mb === undefined ? undefined : `${config.ram_mb} MB`],
    ['disk', config?.storage_gb === undefined ? undefined : `${config.storage_gb} GB`],
    ['url', sprite.url],
    // Names only: values are often secrets, and --json shows them for those who need them.
    ['environment', Object.keys(sprite.environment ?? {}).join(', ')],
    ['labels', (sprite.labels ?? []).join(', ')],
    ['created', formatTimestamp(sprite.created_at, now)],
    ['updated', formatTimestamp(sprite.updated_at, now)],
    ['last running', formatTimestamp(sprite.last_running_at, now)],
    ['last warming', formatTimestamp(sprite.last_warming_at, now)],
    ['sleeps', sprite.sleep ? `warm after ${sprite.sleep.warm_after} idle, cold ${sprite.sleep.cold_after} later` : undefined],
  ]);
}
