/**
 * `burrow checkpoint create|list|info|delete`, `burrow restore` and `burrow fork`: snapshots of
 * a sandbox's disk, going back to one, and new sandboxes from one. Each says how long it took.
 */
import type { Checkpoint, CheckpointEvent } from '@burrow/protocol';
import type { Command } from 'commander';
import { clientFor } from '../client.js';
import { formatAge, formatBytes, formatSeconds, formatTimestamp, renderFields, renderJson, renderTable } from '../output.js';

/** Progress lines on stderr, so stdout stays the result. */
function progress(event: CheckpointEvent): void {
  if (event.type === 'info') process.stderr.write(`  ${event.data}\n`);
}

export function registerCheckpoint(program: Command): void {
  const checkpoint = program.command('checkpoint').description('snapshots of a sandbox disk: create, list, info, delete');

  checkpoint
    .command('create')
    .description('checkpoint the sandbox disk (copy-on-write; the sandbox keeps running)')
    .argument('<name>', 'the sandbox')
    .option('-m, --comment <text>', 'what this checkpoint is (up to 1024 characters)')
    .option('--memory', 'keep the running processes too (vm sandboxes): a restore or fork resumes them')
    .option('--json', 'print the checkpoint as JSON')
    .action(async (name: string, options: { comment?: string; memory?: boolean; json?: boolean }, command: Command) => {
      const started = Date.now();
      const created = await clientFor(command)
        .sandbox(name)
        .createCheckpoint(options.comment, { memory: options.memory, ...(options.json ? {} : { onEvent: progress }) });
      const elapsed = Date.now() - started;
      if (options.json) {
        process.stdout.write(renderJson(created));
        return;
      }
      process.stdout.write(`created checkpoint ${created.id} of ${name} in ${formatSeconds(elapsed)}\n`);
    });

  checkpoint
    .command('list')
    .alias('ls')
    .description('list checkpoints, newest first')
    .argument('<name>', 'the sandbox')
    .option('--all', 'include automatic checkpoints')
    .option('--json', 'print a JSON array for scripts')
    .action(async (name: string, options: { all?: boolean; json?: boolean }, command: Command) => {
      const started = Date.now();
      const list = await clientFor(command).sandbox(name).listCheckpoints({ includeAuto: options.all ?? false });
      if (options.json) {
        process.stdout.write(renderJson(list));
        return;
      }
      const now = new Date();
      process.stdout.write(
        renderTable(
          ['ID', 'CREATED', 'SIZE', 'FROM', 'MEMORY', 'COMMENT'],
          list.map((c) => [c.id, formatAge(c.create_time, now), formatBytes(c.size_bytes), c.source_id ?? '-', c.memory ? 'yes' : '-', c.comment]),
        ),
      );
      process.stderr.write(`${list.length} checkpoint${list.length === 1 ? '' : 's'} of ${name} (${formatSeconds(Date.now() - started)})\n`);
    });

  checkpoint
    .command('info')
    .description('show one checkpoint')
    .argument('<name>', 'the sandbox')
    .argument('<id>', 'the checkpoint, e.g. v3')
    .option('--json', 'print the checkpoint as JSON')
    .action(async (name: string, id: string, options: { json?: boolean }, command: Command) => {
      const found = await clientFor(command).sandbox(name).getCheckpoint(id);
      process.stdout.write(options.json ? renderJson(found) : renderCheckpoint(found));
    });

  checkpoint
    .command('delete')
    .alias('rm')
    .description('delete a checkpoint (not the one the sandbox stands on)')
    .argument('<name>', 'the sandbox')
    .argument('<id>', 'the checkpoint')
    .action(async (name: string, id: string, _options: object, command: Command) => {
      const started = Date.now();
      await clientFor(command).sandbox(name).deleteCheckpoint(id);
      process.stdout.write(`deleted checkpoint ${id} of ${name} in ${formatSeconds(Date.now() - started)}\n`);
    });

  program
    .command('restore')
    .description('put a sandbox disk back as it was at a checkpoint (restarts the sandbox; undo with the auto checkpoint)')
    .argument('<name>', 'the sandbox')
    .argument('<id>', 'the checkpoint, e.g. v3')
    .action(async (name: string, id: string, _options: object, command: Command) => {
      const started = Date.now();
      await clientFor(command).sandbox(name).restoreCheckpoint(id, { onEvent: progress });
      process.stdout.write(`restored ${name} to ${id} in ${formatSeconds(Date.now() - started)}\n`);
    });

  program
    .command('fork')
    .description('create a new sandbox whose disk starts as a checkpoint of another')
    .argument('<name>', 'the sandbox to fork')
    .argument('<id>', 'its checkpoint, e.g. v3')
    .argument('<new>', 'the new sandbox name')
    .option('--json', 'print the new sandbox as JSON')
    .action(async (name: string, id: string, newName: string, options: { json?: boolean }, command: Command) => {
      const started = Date.now();
      const fork = await clientFor(command).sandbox(name).fork(id, newName);
      if (options.json) {
        process.stdout.write(renderJson(fork.info));
        return;
      }
      process.stdout.write(`forked ${name} ${id} into ${fork.name} in ${formatSeconds(Date.now() - started)}\n`);
    });
}

export function renderCheckpoint(c: Checkpoint, now: Date = new Date()): string {
  return renderFields([
    ['id', c.id],
    ['created', formatTimestamp(c.create_time, now)],
    ['comment', c.comment],
    ['automatic', c.is_auto ? 'yes' : 'no'],
    ['memory', c.memory ? 'yes: a restore or fork resumes its processes' : 'no: disk only'],
    ['taken on', c.source_id ?? undefined],
    ['history', c.history.join(' <- ')],
    ['size', c.size_bytes === null ? 'unknown' : `${formatBytes(c.size_bytes)} only this checkpoint holds`],
  ]);
}
