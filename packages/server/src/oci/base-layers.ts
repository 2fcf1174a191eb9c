// The base layer of exported images: an image subvolume packed once, gzipped, and kept in the
// image cache beside the image's tarball, so that every export of every sandbox of that image
// carries the same blob (same digest: registries and Docker store it once). burrow's own files
// in the image (its agent, the gVisor shim, `/.burrow`) are left out: an exported image runs
// without burrow.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Blob } from './image-archive.js';
import { runLayer, treeLayer } from './layers.js';

export const GZIP_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface BaseLayer {
  /** Of the gzipped blob. */
  digest: string;
  size: number;
  /** Of the tar inside (the image config's `diff_ids`). */
  diffId: string;
}

export class BaseLayers {
  private readonly building = new Map<string, Promise<BaseLayer>>();

  /**
   * @param cacheDir the shared image cache (layers are per image id, like the tarballs)
   * @param burrowFiles paths inside images that are burrow's, not the image's
   */
  constructor(
    private readonly cacheDir: string,
    private readonly burrowFiles: readonly string[],
  ) {}

  /**
   * The cached layer of the image (`hit`: it was there before this call). When missing, it is
   * built in the background (minutes for a large image: longer than a client waits for an
   * answer's headers); null when it is not done within `waitMs`, and the caller asks again later.
   */
  async ready(imageId: string, imagePath: string, waitMs: number): Promise<(BaseLayer & { hit: boolean }) | null> {
    const cached = await this.read(imageId);
    if (cached) return { ...cached, hit: true };
    let pending = this.building.get(imageId);
    if (!pending) {
      pending = this.build(imageId, imagePath).finally(() => this.building.delete(imageId));
      pending.catch(() => {}); // reported to whoever waits; a build nobody waits for any more is retried on the next ask
      this.building.set(imageId, pending);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), waitMs)));
    try {
      const built = await Promise.race([pending, timeout]);
      return built && { ...built, hit: false };
    } finally {
      clearTimeout(timer);
    }
  }

  blob(imageId: string, layer: BaseLayer): Blob {
    return { digest: layer.digest, size: layer.size, mediaType: GZIP_LAYER, stored: true, open: () => createReadStream(this.blobFile(imageId), { highWaterMark: 1 << 20 }) };
  }

  /** Partial files of builds whose process died (a daemon killed mid-build): nobody finishes them. */
  private async removeAbandoned(imageId: string): Promise<void> {
    const prefix = `${imageId}.layer.`;
    for (const entry of await readdir(this.cacheDir)) {
      const m = /\.partial-(\d+)$/.exec(entry);
      if (!entry.startsWith(prefix) || !m || pidAlive(Number(m[1]))) continue;
      await rm(join(this.cacheDir, entry), { force: true });
    }
  }

  private blobFile(imageId: string): string {
    return join(this.cacheDir, `${imageId}.layer.tar.gz`);
  }

  private metaFile(imageId: string): string {
    return join(this.cacheDir, `${imageId}.layer.json`);
  }

  private async read(imageId: string): Promise<BaseLayer | null> {
    const text = await readFile(this.metaFile(imageId), 'utf8').catch(() => null);
    if (!text) return null;
    return JSON.parse(text) as BaseLayer;
  }

  /**
   * Another daemon on the machine may build the same layer at the same time: each writes files
   * of its own and renames them in place, blob first, so the metadata never names a missing or
   * partial blob, and both write the same bytes.
   */
  private async build(imageId: string, imagePath: string): Promise<BaseLayer> {
    await mkdir(this.cacheDir, { recursive: true });
    await this.removeAbandoned(imageId);
    const partial = `${this.blobFile(imageId)}.partial-${process.pid}`;
    const layer = runLayer(treeLayer(imagePath, { kind: 'image', exclude: [...this.burrowFiles] }));
    const raw = createHash('sha256');
    const zipped = createHash('sha256');
    let size = 0;
    try {
      await pipeline(
        layer.stream,
        tap((chunk) => raw.update(chunk)),
        createGzip({ level: 6 }),
        tap((chunk) => {
          zipped.update(chunk);
          size += chunk.length;
        }),
        createWriteStream(partial),
      );
      await layer.done;
      const meta: BaseLayer = { digest: `sha256:${zipped.digest('hex')}`, size, diffId: `sha256:${raw.digest('hex')}` };
      await rename(partial, this.blobFile(imageId));
      const metaPartial = `${this.metaFile(imageId)}.partial-${process.pid}`;
      await writeFile(metaPartial, JSON.stringify(meta));
      await rename(metaPartial, this.metaFile(imageId));
      return meta;
    } catch (e) {
      layer.cancel();
      throw e;
    } finally {
      await rm(partial, { force: true });
    }
  }
}

function tap(see: (chunk: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      see(chunk);
      done(null, chunk);
    },
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
