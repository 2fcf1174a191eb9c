// Images: built once per machine with mmdebstrap into a tarball in the shared image cache, then
// imported into each pool as a read-only subvolume that sandbox overlays use as their lower layer.
import { spawn } from 'node:child_process';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { BurrowConfig, ImageName } from '../config.js';
import { CommandError, run } from '../util/run.js';
import { createSubvolume, deleteSubvolume, isSubvolume, setReadonly } from './btrfs.js';
import { packageFile } from '../util/package-files.js';
import { imageId, RECIPES, type ImageRecipe } from './image-recipes.js';
import { ImagePins } from './image-pins.js';
import type { PoolLayout } from './pool.js';
import { exists } from '../util/exists.js';

export interface ImageInfo {
  name: string;
  id: string;
  size_bytes: number | null;
  created_at: string;
  imported: boolean;
}

const PARTIAL_PREFIX = '.partial-';

export class ImageStore {
  readonly pins: ImagePins;

  constructor(
    private readonly config: BurrowConfig,
    private readonly pool: PoolLayout,
  ) {
    this.pins = new ImagePins(config.home);
  }

  /** Computed once per recipe: its files are read once, not on every create. */
  private readonly ids = new Map<string, string>();

  idFor(name: ImageName): string {
    const recipe = this.recipeOf(name);
    const key = JSON.stringify(recipe.npm);
    let id = this.ids.get(key);
    if (!id) this.ids.set(key, (id = imageId(recipe, this.config.aptMirror)));
    return id;
  }

  /** The recipe as this home builds it: newer npm versions from `--refresh` applied. */
  recipeOf(name: ImageName): ImageRecipe {
    return this.pins.apply(RECIPES[name]);
  }

  /** The read-only subvolume a sandbox of this image uses as its lower layer. */
  pathOf(id: string): string {
    return join(this.pool.images, id);
  }

  async isImported(id: string): Promise<boolean> {
    return isSubvolume(this.pathOf(id));
  }

  /** Builds the image into the cache if needed and imports it into the pool if needed. */
  async ensure(name: ImageName, onProgress: (line: string) => void = () => {}): Promise<{ id: string; built: boolean }> {
    const id = this.idFor(name);
    if (await this.isImported(id)) return { id, built: false };
    const built = await this.buildTarball(name, id, onProgress);
    await this.importTarball(id, onProgress);
    return { id, built };
  }

  async list(): Promise<ImageInfo[]> {
    const result: ImageInfo[] = [];
    for (const name of Object.keys(RECIPES) as ImageName[]) {
      const id = this.idFor(name);
      const tar = await stat(this.tarballPath(id)).catch(() => null);
      const imported = await this.isImported(id);
      if (!tar && !imported) continue;
      result.push({
        name,
        id,
        size_bytes: tar?.size ?? null,
        created_at: (tar?.mtime ?? new Date()).toISOString(),
        imported,
      });
    }
    return result;
  }

  /** Removes imports that a crash interrupted. */
  async removePartialImports(): Promise<void> {
    for (const entry of await readdir(this.pool.images)) {
      if (entry.startsWith(PARTIAL_PREFIX)) await deleteSubvolume(join(this.pool.images, entry));
    }
  }

  private tarballPath(id: string): string {
    return join(this.config.imageCache, `${id}.tar`);
  }

  private async buildTarball(name: ImageName, id: string, onProgress: (line: string) => void): Promise<boolean> {
    const tarball = this.tarballPath(id);
    if (await exists(tarball)) return false;
    await mkdir(this.config.imageCache, { recursive: true });
    const release = await acquireLock(`${tarball}.lock`, onProgress);
    try {
      if (await exists(tarball)) return false; // another process built it while we waited
      const recipe = this.recipeOf(name);
      const partial = `${tarball}.partial-${process.pid}`;
      const staged = `${tarball}.npm-${process.pid}`;
      const purge = recipe.buildPackages.filter((p) => !recipe.packages.includes(p));
      const npm = Object.entries(recipe.npm).map(([pkg, version]) => `${pkg}@${version}`);
      const hooks = [
        ...Object.entries(recipe.files).flatMap(([inside, shipped]) => [
          `--customize-hook=${chrootHook(['mkdir', '-p', dirname(inside)])}`,
          `--customize-hook=upload ${packageFile(shipped)} ${inside}`,
        ]),
        ...recipe.setup.map((argv) => `--customize-hook=${chrootHook(argv)}`),
        ...(purge.length ? [`--customize-hook=${chrootHook(['apt-get', 'purge', '-y', '--autoremove', ...purge])}`] : []),
        ...(npm.length ? [`--customize-hook=copy-in ${staged}/bin ${staged}/lib /usr/local`] : []),
      ];
      const args = [
        '--variant=minbase',
        ...(recipe.withoutRecommends ? ['--aptopt=APT::Install-Recommends "false"'] : []),
        `--include=${[...new Set([...recipe.packages, ...recipe.buildPackages])].join(',')}`,
        ...hooks,
        '--format=tar',
        recipe.suite,
        partial,
        ...(this.config.aptMirror ? [this.config.aptMirror] : []),
      ];
      try {
        if (npm.length) {
          onProgress(`installing ${npm.join(' ')} from the npm registry; this takes a few minutes`);
          await stageNpm(staged, npm, onProgress);
        }
        onProgress(`building image ${name} (${id}) with mmdebstrap; this takes about a minute`);
        await streamLines('mmdebstrap', args, onProgress);
        await rename(partial, tarball);
      } finally {
        await rm(partial, { force: true });
        await rm(staged, { recursive: true, force: true });
      }
      return true;
    } finally {
      await release();
    }
  }

  private async importTarball(id: string, onProgress: (line: string) => void): Promise<void> {
    const partial = join(this.pool.images, `${PARTIAL_PREFIX}${id}`);
    onProgress(`importing image ${id} into the pool`);
    await deleteSubvolume(partial);
    await createSubvolume(partial);
    await run('tar', ['-x', '-f', this.tarballPath(id), '-C', partial, '--numeric-owner', '--xattrs', '--xattrs-include=*']);
    await setReadonly(partial, true);
    await rename(partial, this.pathOf(id));
  }
}

/**
 * mmdebstrap runs customize hooks through a shell with the root directory as "$1"; the argv is
 * ours (from the recipe, never from a request), quoted so that the shell passes it through as is.
 */
function chrootHook(argv: string[]): string {
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return `chroot "$1" ${quoted}`;
}

/**
 * Installs npm packages into a prefix on the host, laid out as /usr/local will hold them (bin/
 * links into lib/node_modules/), for the image to copy in: the image has no Node.js to run npm
 * until these packages bring it. Platform packages (the agents' native binaries) are chosen for
 * the image (Linux, glibc, this machine's architecture), whatever the host's npm is set up for.
 */
async function stageNpm(prefix: string, packages: string[], onProgress: (line: string) => void): Promise<void> {
  await rm(prefix, { recursive: true, force: true });
  await mkdir(prefix, { recursive: true });
  const flags = ['--global', `--prefix=${prefix}`, '--os=linux', `--cpu=${process.arch}`, '--libc=glibc', '--no-fund', '--no-audit', '--no-update-notifier'];
  await streamLines('npm', ['install', ...flags, ...packages], onProgress);
}

function streamLines(file: string, args: string[], onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        onLine(line);
      });
    }
    child.on('error', (e) => reject(new CommandError([file, ...args], null, e.message)));
    child.on('close', (code, signal) =>
      code === 0 ? resolve() : reject(new CommandError([file, ...args], code, tail.join('\n'), signal)),
    );
  });
}

/** A lock file holding the owner's pid; a lock whose owner died is taken over. */
async function acquireLock(path: string, onProgress: (line: string) => void): Promise<() => Promise<void>> {
  let told = false;
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      await handle.write(String(process.pid));
      await handle.close();
      return () => unlink(path).catch(() => {});
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = Number((await readFileOrEmpty(path)).trim());
    if (!owner || !pidAlive(owner)) {
      await unlink(path).catch(() => {});
      continue;
    }
    if (!told) onProgress(`waiting for process ${owner}, which is building the same image`);
    told = true;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function readFileOrEmpty(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '');
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
