/** `burrow image build|list`: the base images sandboxes start from, on this host. */
import { IMAGE_NAMES } from '@burrow/protocol';
import { Argument, type Command } from 'commander';
import { formatAge, formatBytes, formatSeconds, renderJson, renderTable } from '../output.js';
import { loadServer, type ImageName } from '../server-module.js';

export function registerImage(program: Command): void {
  const image = program.command('image').description('build and list base images (on the sandbox host)');

  image
    .command('build')
    .description('build a base image with mmdebstrap (skipped when it is already built)')
    .addArgument(new Argument('<name>', 'which image').choices(IMAGE_NAMES))
    .option('--refresh', "move the image's coding agents to their newest release (from then on, new sandboxes use it)")
    .option('--vm', 'also make what vm sandboxes boot: the image as an ext4 disk, the guest kernel and initramfs (the default when BURROW_RUNTIME=vm)')
    .action(async (name: ImageName, options: { refresh?: boolean; vm?: boolean }) => {
      const server = await loadServer();
      const config = server.loadConfig(process.env);
      const started = Date.now();
      const result = await server.buildImage(config, name, (line) => void process.stdout.write(`  ${line}\n`), options);
      process.stdout.write(
        result.built
          ? `built image ${result.name} (${result.id}) in ${formatSeconds(Date.now() - started)}\n`
          : `image ${result.name} is already built (${result.id})\n`,
      );
      if (result.machineDisk) process.stdout.write(`vm sandboxes boot it from ${result.machineDisk}\n`);
    });

  image
    .command('list')
    .description('list the images on this host')
    .option('--json', 'print JSON for scripts')
    .action(async (options: { json?: boolean }) => {
      const server = await loadServer();
      const images = await server.listImages(server.loadConfig(process.env));
      if (options.json) {
        process.stdout.write(renderJson(images));
        return;
      }
      process.stdout.write(
        renderTable(
          ['NAME', 'ID', 'SIZE', 'CREATED', 'IMPORTED'],
          images.map((i) => [i.name, i.id.slice(0, 12), formatBytes(i.size_bytes), formatAge(i.created_at), i.imported ? 'yes' : 'no']),
        ),
      );
    });
}
