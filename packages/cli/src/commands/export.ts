/**
 * `burrow export NAME[@CHECKPOINT] -o app.tar`: the sandbox as an OCI image archive that
 * Docker, Podman, skopeo and Kubernetes tools take as it is. Written to a file beside the
 * destination and renamed into place once complete, so a broken transfer leaves no archive
 * that looks whole.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { IMAGE_ARCHIVE_FORMATS, type ImageArchiveFormat } from '@burrow/protocol';
import { Option, type Command } from 'commander';
import { clientFor } from '../client.js';
import { formatBytes, formatSeconds } from '../output.js';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export a sandbox (or one of its checkpoints) as an OCI image archive; a running sandbox keeps running')
    .argument('<target>', 'NAME or NAME@CHECKPOINT (without a checkpoint, an automatic one is taken now)')
    .requiredOption('-o, --output <file>', 'where to write the archive (- for stdout)')
    .addOption(new Option('--format <format>', 'oci, or docker to add the manifest.json of `docker save`').choices([...IMAGE_ARCHIVE_FORMATS]).default('oci'))
    .option('--tag <name>', 'the name the image loads as, e.g. app:1 (default NAME:CHECKPOINT)')
    .action(async (target: string, options: { output: string; format: ImageArchiveFormat; tag?: string }, command: Command) => {
      const at = target.indexOf('@');
      const name = at < 0 ? target : target.slice(0, at);
      const checkpoint = at < 0 ? undefined : target.slice(at + 1);
      const started = Date.now();
      const exported = await clientFor(command).sandbox(name).export({ checkpoint, format: options.format, tag: options.tag });
      let bytes = 0;
      exported.stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
      if (options.output === '-') {
        await pipeline(exported.stream, process.stdout);
      } else {
        const partial = `${options.output}.partial-${process.pid}`;
        try {
          await pipeline(exported.stream, createWriteStream(partial));
          await rename(partial, options.output);
        } finally {
          await rm(partial, { force: true });
        }
      }
      const { notes } = exported;
      const base = exported.baseLayerCached ? 'base layer from the cache' : 'base layer built now';
      process.stderr.write(
        `exported ${name}@${exported.checkpoint} (${formatBytes(bytes)}, ${base}) in ${formatSeconds(Date.now() - started)}\n  image ${exported.digest}\n`,
      );
      if (notes.secrets.length) {
        process.stderr.write('warning: the image holds no secrets; the app used these through burrow, give it real values in production:\n');
        for (const s of notes.secrets) process.stderr.write(`  ${s.secret}${s.env ? ` (as $${s.env})` : ''}\n`);
      }
      if (notes.skippedCount) {
        process.stderr.write(`left out of the image: ${notes.skippedCount} file${notes.skippedCount === 1 ? '' : 's'}\n`);
        for (const s of notes.skipped) process.stderr.write(`  ${JSON.stringify(s.path)}: ${s.reason}\n`);
      }
    });
}
