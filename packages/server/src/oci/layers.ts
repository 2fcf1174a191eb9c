// Layers of an exported image, as streams of tar bytes made by host-tools/oci-layer.py (Python
// reads the extended attributes and whiteouts that Node.js cannot). A layer's bytes depend only
// on the tree it packs, which is read-only (an image subvolume, a checkpoint's snapshot), so the
// same layer can be made twice: once to learn its digest (hashed by the tool, nothing sent), once
// to send it.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { HOST_PYTHON, packageFile } from '../util/package-files.js';

const LAYER_TOOL = packageFile('host-tools/oci-layer.py');

/** Something the layer leaves out, and why (a device node, a file past the size cap). */
export interface Skipped {
  path: string;
  reason: string;
}

/** What makes one layer: the tool's arguments after `oci-layer.py`, and stdin for `files`. */
export interface LayerRecipe {
  args: string[];
  input?: string;
}

export interface LayerRun {
  stream: Readable;
  /** Resolves once the tool exited 0, with what it left out; rejects with its complaint. */
  done: Promise<Skipped[]>;
  /** Ends the tool early (a client went away). */
  cancel(): void;
}

/** The layer of a read-only tree. `upper`: an overlay upper directory, as a layer over its image. */
export function treeLayer(
  root: string,
  opts: { kind: 'image' | 'upper'; idBase?: number; exclude?: string[]; empty?: string[]; maxFileBytes?: number },
): LayerRecipe {
  return {
    args: [
      'tree', root, '--kind', opts.kind,
      ...(opts.idBase ? ['--id-base', String(opts.idBase)] : []),
      ...(opts.exclude ?? []).flatMap((p) => ['--exclude', p]),
      ...(opts.empty ?? []).flatMap((p) => ['--empty', p]),
      ...(opts.maxFileBytes !== undefined ? ['--max-file-bytes', String(opts.maxFileBytes)] : []),
    ],
  };
}

export interface GeneratedFile {
  path: string;
  type: 'dir' | 'file';
  mode: number;
  content?: Buffer;
}

/** A layer of a few generated files, owned by root, mtime 0. */
export function filesLayer(files: GeneratedFile[]): LayerRecipe {
  const spec = files.map((f) => ({ path: f.path, type: f.type, mode: f.mode, ...(f.content ? { content: f.content.toString('base64') } : {}) }));
  return { args: ['files'], input: JSON.stringify(spec) };
}

export function runLayer(recipe: LayerRecipe, how: { measure?: boolean } = {}): LayerRun {
  const child = spawn(HOST_PYTHON, [LAYER_TOOL, ...(how.measure ? ['--measure'] : []), ...recipe.args], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => {}); // the tool may exit before reading a spec it does not need
  child.stdin.end(recipe.input ?? '');
  const skipped: Skipped[] = [];
  const complaints: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    try {
      const parsed = JSON.parse(line) as { skipped?: string; reason?: string };
      if (typeof parsed.skipped === 'string') {
        skipped.push({ path: parsed.skipped, reason: String(parsed.reason) });
        return;
      }
    } catch {
      // not one of the tool's reports: its complaint
    }
    complaints.push(line);
    if (complaints.length > 20) complaints.shift();
  });
  const done = new Promise<Skipped[]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(skipped);
      else reject(new Error(`packing a layer failed (${signal ?? `exit ${code}`}): ${complaints.join(' | ') || 'no message'}`));
    });
  });
  done.catch(() => {}); // observed by whoever awaits it; a cancelled run must not go unhandled
  return { stream: child.stdout, done, cancel: () => child.kill('SIGKILL') };
}

export interface Measured {
  digest: string;
  size: number;
  skipped: Skipped[];
}

/** The layer's sha256 and size: the tool hashes what it would write, so no layer bytes move. */
export async function measureLayer(recipe: LayerRecipe): Promise<Measured> {
  const run = runLayer(recipe, { measure: true });
  let answer = '';
  for await (const chunk of run.stream as AsyncIterable<Buffer>) answer += chunk.toString();
  const skipped = await run.done;
  const { digest, size } = JSON.parse(answer) as { digest: string; size: number };
  return { digest, size, skipped };
}
