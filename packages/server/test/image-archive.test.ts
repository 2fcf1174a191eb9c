// The OCI image archive as a tar stream: readable by tar, the same bytes every time, blobs named
// by their digests, and a blob whose bytes changed between measuring and sending ends the stream.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { archiveChunks, blobPath, jsonBlob, type Blob, type ImageArchive } from '../src/oci/image-archive.js';
import { initFiles } from '../src/oci/service-init.js';

const run = promisify(execFile);
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function collect(image: ImageArchive): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of archiveChunks(image)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A layer measured as `bytes` whose second packing gives `sent`. */
function streamedLayer(bytes: Buffer, sent: Buffer = bytes): Blob {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  return { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: bytes.length, open: () => Readable.from([sent]) };
}

function image(layer: Blob, format: 'oci' | 'docker' = 'oci'): ImageArchive {
  const config = jsonBlob('application/vnd.oci.image.config.v1+json', { architecture: 'amd64', os: 'linux' });
  const manifest = jsonBlob('application/vnd.oci.image.manifest.v1+json', { schemaVersion: 2, layers: [{ digest: layer.digest }] });
  return { manifest, config, layers: [layer], tag: 'app:1', format };
}

describe('the image archive', () => {
  it('is a tar of oci-layout, index.json and every blob under its digest', async () => {
    const layer = streamedLayer(Buffer.alloc(1000, 7));
    const bytes = await collect(image(layer));
    const dir = await mkdtemp(join(tmpdir(), 'burrow-archive-'));
    dirs.push(dir);
    await writeFile(join(dir, 'a.tar'), bytes);
    const { stdout } = await run('tar', ['-tf', join(dir, 'a.tar')]);
    const names = stdout.split('\n').filter(Boolean);
    expect(names).toContain('oci-layout');
    expect(names).toContain('index.json');
    expect(names).toContain(blobPath(layer.digest));
    await run('tar', ['-xf', join(dir, 'a.tar'), '-C', dir]);
    expect((await readFile(join(dir, blobPath(layer.digest)))).equals(Buffer.alloc(1000, 7))).toBe(true);
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ annotations: Record<string, string> }> };
    expect(index.manifests[0]!.annotations).toEqual({ 'io.containerd.image.name': 'docker.io/library/app:1', 'org.opencontainers.image.ref.name': '1' });
    expect(names).not.toContain('manifest.json');
  });

  it('adds the manifest.json of docker save in the docker format', async () => {
    const bytes = await collect(image(streamedLayer(Buffer.from('layer')), 'docker'));
    expect(bytes.includes(Buffer.from('"RepoTags":["app:1"]'))).toBe(true);
  });

  it('is the same bytes every time', async () => {
    const layer = () => streamedLayer(Buffer.from('same layer'));
    expect((await collect(image(layer()))).equals(await collect(image(layer())))).toBe(true);
  });

  it('ends with an error when a blob comes out different from what was measured', async () => {
    const changed = streamedLayer(Buffer.from('measured'), Buffer.from('MEASURED'));
    await expect(collect(image(changed))).rejects.toThrow(/came out different/);
  });

  it('sends a stored blob (the cached base layer) under its recorded digest, checking only its size', async () => {
    const recorded = streamedLayer(Buffer.alloc(700, 1));
    const stored: Blob = { ...recorded, stored: true, open: () => Readable.from([Buffer.alloc(700, 2)]) };
    const archive = await collect(image(stored));
    expect(archive.includes(Buffer.alloc(700, 2))).toBe(true);
    const truncated: Blob = { ...stored, open: () => Readable.from([Buffer.alloc(699, 1)]) };
    await expect(collect(image(truncated))).rejects.toThrow(/came out different/);
  });
});

describe('the init layer', () => {
  it('carries each service as data, in start order, never as shell text', () => {
    const files = initFiles([
      { name: 'db', cmd: 'postgres', args: ['-c', "it's; rm -rf /"], env: { B: '2', A: '1' }, dir: '/srv' },
      { name: 'web', cmd: 'python3', args: ['-m', 'http.server'], env: {}, dir: '/home/user' },
    ]);
    const byPath = new Map(files.map((f) => [f.path, f.content?.toString()]));
    expect(byPath.get('/usr/local/lib/burrow-init/services/01/name')).toBe('db');
    expect(byPath.get('/usr/local/lib/burrow-init/services/01/argv')).toBe("postgres\0-c\0it's; rm -rf /\0");
    expect(byPath.get('/usr/local/lib/burrow-init/services/01/env')).toBe('A=1\0B=2\0');
    expect(byPath.get('/usr/local/lib/burrow-init/services/02/name')).toBe('web');
    expect(byPath.get('/usr/local/lib/burrow-init/init')).not.toContain('rm -rf');
  });
});
