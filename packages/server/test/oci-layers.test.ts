// The layer tool's two passes over one read-only tree: the measuring pass (hashed inside the
// tool, no layer bytes sent) names exactly the bytes the sending pass streams, whether stdout
// is a pipe (splice) or a file (sendfile), for files of any size, links and names of any bytes.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { link, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureLayer, runLayer, treeLayer } from '../src/oci/layers.js';
import { HOST_PYTHON, packageFile } from '../src/util/package-files.js';

const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'burrow-oci-layers-'));
  const tree = join(dir, 'tree');
  await mkdir(join(tree, 'sub'), { recursive: true });
  await writeFile(join(tree, 'empty'), '');
  await writeFile(join(tree, 'small'), 'hello\n');
  await writeFile(join(tree, 'sub', 'big'), Buffer.alloc(3 * 2 ** 20 + 123, 'x'));
  await link(join(tree, 'small'), join(tree, 'hard'));
  await symlink('/etc/passwd', join(tree, 'out'));
  await writeFile(join(tree, 'new\nline'), 'n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

describe('a layer of a tree', () => {
  it('measures the digest and size of the bytes it streams through a pipe', async () => {
    const recipe = treeLayer(join(dir, 'tree'), { kind: 'image' });
    const measured = await measureLayer(recipe);
    const layer = runLayer(recipe);
    const chunks: Buffer[] = [];
    for await (const chunk of layer.stream) chunks.push(chunk as Buffer);
    await layer.done;
    const streamed = Buffer.concat(chunks);
    expect({ digest: measured.digest, size: measured.size }).toEqual({ digest: sha(streamed), size: streamed.length });
  });

  it('writes the same bytes to a file (sendfile) as to a pipe, and tar reads them', async () => {
    const recipe = treeLayer(join(dir, 'tree'), { kind: 'image' });
    const measured = await measureLayer(recipe);
    const file = join(dir, 'layer.tar');
    await run('sh', ['-c', 'exec "$0" "$@" > "$LAYER_FILE"', HOST_PYTHON, packageFile('host-tools/oci-layer.py'), ...recipe.args], { env: { ...process.env, LAYER_FILE: file } });
    const bytes = await readFile(file);
    expect(sha(bytes)).toBe(measured.digest);
    const { stdout } = await run('tar', ['-tf', file]);
    expect(stdout.split('\n').filter(Boolean).sort()).toEqual(['empty', 'hard', 'new\\nline', 'out', 'small', 'sub/', 'sub/big'].sort());
  });
});
