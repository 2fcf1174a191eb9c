// A sandbox from an OCI image archive (an OCI image layout, or `docker save`, from any tool, any
// number of layers). The archive is hostile: it is unpacked by host-tools/oci-unpack.py, which
// writes nothing through a symlink, makes no device node and lets no name climb out. Its layers
// are flattened into a new read-only image subvolume (`oci-<manifest digest>`), which the new
// sandbox stands on as sandboxes stand on burrow's own images; burrow's agent and shim are
// grafted in from burrow's image. The services come with it: those a burrow export describes in
// its config, or an image's own entrypoint. Every step happens under a `.partial-` name that
// start-up removes, and every failure removes what was made: never a half-made sandbox or image.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { exportedServices, SERVICES_LABEL, type ExportedService } from '@burrow/protocol';
import type { RuntimeKind } from '../config.js';
import type { SandboxRecord } from '../db/sandboxes.js';
import type { ServiceDefinition } from '../db/services.js';
import { BURROW_IMAGE_FILES } from '../storage/image-recipes.js';
import { HOST_PYTHON, packageFile } from '../util/package-files.js';
import { createSubvolume, deleteSubvolume, isSubvolume, setReadonly } from '../storage/btrfs.js';
import type { ImageStore } from '../storage/images.js';
import type { PoolLayout } from '../storage/pool.js';
import { CommandError, run } from '../util/run.js';
import { DomainError, SandboxExists, VM_ARCHIVES } from './errors.js';
import type { SandboxDefaults, SandboxManager } from './sandbox-manager.js';
import { definitionOf, needsProblem, type Services } from './services.js';

const UNPACK_TOOL = packageFile('host-tools/oci-unpack.py');
/** The tool's exit status for a refused archive. */
const REFUSED = 3;
/** Variables a sandbox gets from burrow itself; the image's values of them are not kept. */
const BURROW_VARIABLES = new Set(['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'HOSTNAME']);

export interface ImageImportDeps {
  manager: SandboxManager;
  services: Services;
  images: ImageStore;
  pool: PoolLayout;
  /** Limits and runtime a new sandbox gets when the request names none, and the image whose agent is grafted in. */
  defaults: SandboxDefaults;
  /** Crash injection for tests (BURROW_CRASH_AT); a no-op otherwise. */
  crashPoint: (step: string) => void;
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  platform?: { architecture?: string; os?: string };
}

interface ImageConfig {
  architecture?: string;
  os?: string;
  config?: { Env?: string[]; Entrypoint?: unknown; Cmd?: unknown; ExposedPorts?: unknown; WorkingDir?: unknown; Labels?: unknown };
}

/** The service an image of another tool runs as: its entrypoint and command. */
const FOREIGN_SERVICE = 'app';

export class ImageImports {
  constructor(private readonly deps: ImageImportDeps) {}

  async import(name: string, archive: Readable, opts: { runtime?: RuntimeKind } = {}): Promise<SandboxRecord> {
    const { manager, images, pool } = this.deps;
    if (manager.list().some((s) => s.name === name)) throw new SandboxExists(name);
    const runtime = opts.runtime ?? this.deps.defaults.runtime;
    if (runtime === 'vm') throw new DomainError('invalid_request', VM_ARCHIVES);
    const staging = join(pool.images, `.partial-import-${randomBytes(6).toString('hex')}`);
    await createSubvolume(staging);
    let tree: string | undefined;
    try {
      await unpack(['archive', staging], archive);
      const { manifestDigest, config, layers } = await readLayout(staging);
      if (config.architecture !== 'amd64' || (config.os ?? 'linux') !== 'linux') {
        throw invalid(`the image is for ${config.os ?? '?'}/${config.architecture ?? '?'}; burrow runs linux/amd64 images`);
      }
      const services = servicesOf(config);
      for (const service of services) {
        const problem = needsProblem(service, services, 'the image');
        if (problem) throw invalid(problem);
      }
      const imageId = `oci-${manifestDigest.slice('sha256:'.length, 'sha256:'.length + 12)}`;
      if (!(await images.isImported(imageId))) {
        tree = join(pool.images, `.partial-${imageId}-${randomBytes(4).toString('hex')}`);
        await createSubvolume(tree);
        await unpack(['layers', tree, ...layers]);
        const found = JSON.parse((await unpack(['check', tree])).stdout) as { shell: boolean; user: boolean };
        if (!found.shell) throw invalid('the image has no /bin/sh; a sandbox needs a shell');
        if (!found.user) throw invalid('the image has no `user` account in /etc/passwd; add one (uid 1000 with a home at /home/user), as burrow runs commands as `user`');
        const burrowImage = images.pathOf(images.idFor(this.deps.defaults.image));
        await unpack(['graft', tree, burrowImage, ...BURROW_IMAGE_FILES]);
        await unpack(['dirs', tree]);
        await setReadonly(tree, true);
        await rename(tree, images.pathOf(imageId)).catch(async (e: NodeJS.ErrnoException) => {
          // Imported meanwhile by another request: that copy serves.
          if (!(await isSubvolume(images.pathOf(imageId)))) throw e;
        });
      }
      await manager.create({
        ...this.deps.defaults,
        runtime,
        name,
        environment: environmentOf(config),
        labels: [],
        urlSettings: { auth: 'sprite' },
        // The services are made in the create step: a crash before it ends rolls both back.
        from: { image: imageId, populate: async (sandboxId) => this.deps.services.defineForNewSandbox(sandboxId, services) },
      });
      this.deps.crashPoint('import:created');
      return manager.get(name);
    } finally {
      if (tree) await deleteSubvolume(tree).catch(() => {});
      await deleteSubvolume(staging).catch(() => {});
    }
  }
}

function invalid(message: string): DomainError {
  return new DomainError('invalid_image', message);
}

/** Runs the unpack tool; a refusal (exit 3) becomes a 400 that says why. */
async function unpack(args: string[], input?: Readable): Promise<{ stdout: string }> {
  if (!input) {
    try {
      return await run(HOST_PYTHON, [UNPACK_TOOL, ...args]);
    } catch (e) {
      throw refusalOr(e);
    }
  }
  return new Promise((resolve, reject) => {
    const child = spawn(HOST_PYTHON, [UNPACK_TOOL, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdin.on('error', () => {}); // the tool stopped reading: its exit says why
    input.on('error', () => child.kill('SIGKILL'));
    input.pipe(child.stdin);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ stdout });
      else reject(refusalOr(new CommandError([HOST_PYTHON, UNPACK_TOOL, ...args], code, stderr, signal)));
    });
  });
}

function refusalOr(e: unknown): unknown {
  if (e instanceof CommandError && e.code === REFUSED) return invalid(`the archive was refused: ${e.stderr.trim().split('\n').at(-1)}`);
  return e;
}

/** The manifest (linux/amd64 where the archive holds several), its config and its layer files. */
async function readLayout(dir: string): Promise<{ manifestDigest: string; config: ImageConfig; layers: string[] }> {
  const index = await readJson<{ manifests?: Descriptor[] }>(dir, 'index.json');
  if (index?.manifests?.length) {
    let manifest = await manifestOf(dir, index.manifests);
    if (manifest.json.manifests) manifest = await manifestOf(dir, manifest.json.manifests);
    const layers = manifest.json.layers ?? [];
    if (!manifest.json.config) throw invalid('the manifest names no config');
    const config = await blobJson<ImageConfig>(dir, manifest.json.config.digest);
    return { manifestDigest: manifest.digest, config, layers: await Promise.all(layers.map((l) => verifiedBlob(dir, l.digest))) };
  }
  const saved = await readJson<Array<{ Config: string; Layers: string[] }>>(dir, 'manifest.json');
  const entry = saved?.[0];
  if (!entry) throw invalid('this is not an image archive: it has neither index.json (OCI) nor manifest.json (docker save)');
  const configPath = safeMember(dir, entry.Config);
  const configBytes = await readFile(configPath).catch(() => {
    throw invalid(`the archive lacks ${entry.Config}`);
  });
  const config = parseJson<ImageConfig>(configBytes.toString(), entry.Config);
  const digest = `sha256:${createHash('sha256').update(configBytes).digest('hex')}`;
  const layers = entry.Layers.map((l) => safeMember(dir, l));
  for (const layer of layers) await stat(layer).catch(() => Promise.reject(invalid(`the archive lacks a layer it names`)));
  return { manifestDigest: digest, config, layers };
}

interface ManifestJson {
  manifests?: Descriptor[];
  config?: Descriptor;
  layers?: Descriptor[];
}

async function manifestOf(dir: string, list: Descriptor[]): Promise<{ digest: string; json: ManifestJson }> {
  const chosen = list.find((m) => !m.platform || (m.platform.architecture === 'amd64' && m.platform.os === 'linux'));
  if (!chosen) throw invalid(`the archive has no linux/amd64 image (it has ${list.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).join(', ')})`);
  return { digest: chosen.digest, json: await blobJson<ManifestJson>(dir, chosen.digest) };
}

async function readJson<T>(dir: string, name: string): Promise<T | null> {
  const text = await readFile(join(dir, name), 'utf8').catch(() => null);
  return text === null ? null : parseJson<T>(text, name);
}

function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw invalid(`${what} in the archive is not JSON`);
  }
}

async function blobJson<T>(dir: string, digest: string): Promise<T> {
  const path = await verifiedBlob(dir, digest);
  return parseJson<T>(await readFile(path, 'utf8'), digest);
}

/** The blob's file, once its bytes are checked against its digest. */
async function verifiedBlob(dir: string, digest: string): Promise<string> {
  const m = /^sha256:([0-9a-f]{64})$/.exec(String(digest));
  if (!m) throw invalid(`unsupported digest '${String(digest).slice(0, 80)}' (sha256 only)`);
  const path = join(dir, 'blobs', 'sha256', m[1]!);
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch {
    throw invalid(`the archive lacks blob ${digest}`);
  }
  if (hash.digest('hex') !== m[1]) throw invalid(`blob ${digest} does not match its digest`);
  return path;
}

/** A path the archive names for one of its own files (docker save), kept inside the staging dir. */
function safeMember(dir: string, member: string): string {
  const parts = String(member).split('/').filter((p) => p && p !== '.');
  if (parts.some((p) => p === '..') || parts.length === 0) throw invalid(`'${String(member).slice(0, 80)}' climbs out of the archive`);
  return join(dir, ...parts);
}

/**
 * The services the sandbox runs: a burrow export names its own (in start order); an image of
 * another tool runs its entrypoint and command as one service, serving its lowest exposed TCP
 * port. A description that does not parse refuses the archive before anything is made.
 */
function servicesOf(config: ImageConfig): ServiceDefinition[] {
  const labels = config.config?.Labels;
  const described = labels && typeof labels === 'object' ? (labels as Record<string, unknown>)[SERVICES_LABEL] : undefined;
  const source = described === undefined ? "the image's Entrypoint and Cmd" : `label ${SERVICES_LABEL}`;
  const services = described === undefined ? foreignService(config) : typeof described === 'string' ? parseJson(described, source) : null;
  const parsed = exportedServices.safeParse(services);
  if (!parsed.success) throw invalid(`${source} ${parsed.error.issues[0]?.message ?? 'does not describe services'}`);
  return parsed.data.map((s) => definitionOf(s.name, s));
}

/** Entrypoint + Cmd as the service `app`, in WorkingDir, serving the lowest exposed TCP port. */
function foreignService(config: ImageConfig): ExportedService[] {
  const argv = [...stringsOf(config.config?.Entrypoint), ...stringsOf(config.config?.Cmd)];
  if (!argv.length) return [];
  const exposed = config.config?.ExposedPorts;
  const ports = Object.keys(exposed && typeof exposed === 'object' ? exposed : {})
    .map((p) => Number(/^(\d{1,5})(?:\/tcp)?$/.exec(p)?.[1]))
    .filter((p) => p >= 1 && p <= 65_535)
    .sort((a, b) => a - b);
  const workdir = config.config?.WorkingDir;
  return [
    {
      name: FOREIGN_SERVICE,
      cmd: argv[0]!,
      args: argv.slice(1),
      ...(typeof workdir === 'string' && workdir.startsWith('/') ? { dir: workdir } : {}),
      http_port: ports[0] ?? null,
    },
  ];
}

function stringsOf(value: unknown): string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : [];
}

function environmentOf(config: ImageConfig): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of config.config?.Env ?? []) {
    const eq = entry.indexOf('=');
    if (eq <= 0 || entry.includes('\0')) continue;
    const key = entry.slice(0, eq);
    if (!BURROW_VARIABLES.has(key)) env[key] = entry.slice(eq + 1);
  }
  return env;
}

