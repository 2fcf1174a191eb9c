// The OCI image layout (image-spec `image-layout.md`) as one tar stream: `oci-layout`,
// `index.json` and `blobs/sha256/<digest>`, plus Docker's `manifest.json` for `docker load` of
// Docker Engines older than 25 (which read the OCI files themselves). Blobs are streamed in, never
// held whole: a blob's digest and size are known before it is sent (the tar header and its name
// need them), and what is sent is checked against them, so a source that changed in between
// ends the stream with an error instead of a wrong image. A blob burrow measured when it wrote
// it (the cached base layer) is only counted, not hashed again.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

const BLOCK = 512;

export interface Blob {
  digest: string;
  size: number;
  mediaType: string;
  /** The blob's bytes; called once, when the blob's turn comes. */
  open(): Readable | Buffer;
  /** A file burrow wrote and hashed as it wrote it, which nothing writes since: its size is checked, its digest not again. */
  stored?: boolean;
}

export type ArchiveFormat = 'oci' | 'docker';

export interface ImageArchive {
  manifest: Blob;
  config: Blob;
  layers: Blob[];
  /** `app:1`: the name Docker gives the image on load; its tag is the OCI ref name. */
  tag: string;
  format: ArchiveFormat;
}

/** `blobs/sha256/<hex>`: where a blob lives in the layout. */
export function blobPath(digest: string): string {
  return `blobs/${digest.replace(':', '/')}`;
}

export function jsonBlob(mediaType: string, value: unknown): Blob & { bytes: Buffer } {
  const bytes = Buffer.from(JSON.stringify(value));
  return { mediaType, bytes, size: bytes.length, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, open: () => bytes };
}

/** The archive's bytes, entry by entry; pull-driven, so a slow reader slows the sources. */
export async function* archiveChunks(image: ImageArchive): AsyncGenerator<Buffer> {
  const refName = image.tag.includes(':') ? image.tag.slice(image.tag.lastIndexOf(':') + 1) : 'latest';
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: image.manifest.mediaType,
        digest: image.manifest.digest,
        size: image.manifest.size,
        annotations: { 'io.containerd.image.name': dockerName(image.tag), 'org.opencontainers.image.ref.name': refName },
      },
    ],
  };
  yield* smallFile('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
  yield* smallFile('index.json', Buffer.from(JSON.stringify(index)));
  if (image.format === 'docker') {
    const manifest = [{ Config: blobPath(image.config.digest), RepoTags: [image.tag], Layers: image.layers.map((l) => blobPath(l.digest)) }];
    yield* smallFile('manifest.json', Buffer.from(JSON.stringify(manifest)));
  }
  yield header('blobs/', 0, '5');
  yield header('blobs/sha256/', 0, '5');
  const sent = new Set<string>();
  for (const blob of [image.config, ...image.layers, image.manifest]) {
    if (sent.has(blob.digest)) continue; // two identical layers are one blob
    sent.add(blob.digest);
    yield header(blobPath(blob.digest), blob.size, '0');
    yield* checked(blob);
    const pad = (BLOCK - (blob.size % BLOCK)) % BLOCK;
    if (pad) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(BLOCK * 2);
}

function* smallFile(name: string, bytes: Buffer): Generator<Buffer> {
  yield header(name, bytes.length, '0');
  yield bytes;
  const pad = (BLOCK - (bytes.length % BLOCK)) % BLOCK;
  if (pad) yield Buffer.alloc(pad);
}

async function* checked(blob: Blob): AsyncGenerator<Buffer> {
  const source = blob.open();
  const hash = blob.stored ? null : createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of Buffer.isBuffer(source) ? [source] : (source as AsyncIterable<Buffer>)) {
      size += chunk.length;
      if (size > blob.size) break;
      hash?.update(chunk);
      yield chunk;
    }
  } finally {
    // A reader that went away, or too many bytes: the source's producer must stop too.
    if (!Buffer.isBuffer(source)) source.destroy();
  }
  const digest = hash ? `sha256:${hash.digest('hex')}` : blob.digest;
  if (size !== blob.size || digest !== blob.digest) {
    throw new Error(`blob ${blob.digest} came out different the second time (${size} bytes, ${digest}); nothing may write the exported tree`);
  }
}

/** Docker's reference for a tag without a registry: `docker.io/library/app:1`. */
function dockerName(tag: string): string {
  const slash = tag.indexOf('/');
  const domain = slash > 0 ? tag.slice(0, slash) : '';
  if (domain.includes('.') || domain.includes(':') || domain === 'localhost') return tag;
  return slash > 0 ? `docker.io/${tag}` : `docker.io/library/${tag}`;
}

/** A ustar header: our own names are short ASCII; mtime 0 so the archive is the same every time. */
function header(name: string, size: number, type: '0' | '5'): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'ascii');
  h.write(octal(type === '5' ? 0o755 : 0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  writeSize(h, size);
  h.write(octal(0, 12), 136, 'ascii');
  h.fill(0x20, 148, 156);
  h.write(type, 156, 'ascii');
  h.write('ustar\x0000', 257, 'binary');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** Sizes past 8 GiB do not fit 11 octal digits: GNU tar's base-256 form then. */
function writeSize(h: Buffer, size: number): void {
  if (size < 8 ** 11) {
    h.write(octal(size, 12), 124, 'ascii');
    return;
  }
  h[124] = 0x80;
  let rest = BigInt(size);
  for (let i = 135; i > 124; i--) {
    h[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
}
