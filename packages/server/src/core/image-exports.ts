// Export of a sandbox's checkpoint as an OCI image: the image's base layer (cached per image,
// the same blob for every sandbox of it), the sandbox's own files as a second layer (its
// overlay upper directory in the checkpoint's read-only snapshot, whiteouts translated), and a
// third, tiny layer with the init that runs its services. A sandbox's disk is an overlay upper
// directory over the read-only image, so the upper directory *is* the diff against the base:
// no comparison of trees is needed, only the translation of overlay's whiteouts to OCI's.
// Exporting without a checkpoint takes an automatic one first, so the image is one instant of
// the disk while the sandbox keeps running.
//
// Nothing is buffered: each layer's digest is measured by packing it once, and the archive
// packs it again while it streams (the snapshot is read-only, so both passes give the same
// bytes, and the archive checks that they do). A checkpoint never changes, so its layer's
// measure is kept: exporting it again packs it only once.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SERVICES_LABEL, type ExportedService } from '@burrow/protocol';
import type { ServiceRecord, ServiceStore } from '../db/services.js';
import { DEFAULT_PATH } from '../runtime/oci-bundle.js';
import type { BaseLayers } from '../oci/base-layers.js';
import { archiveChunks, jsonBlob, type ArchiveFormat, type Blob } from '../oci/image-archive.js';
import { filesLayer, measureLayer, runLayer, treeLayer, type LayerRecipe, type Measured, type Skipped } from '../oci/layers.js';
import { INIT, initFiles } from '../oci/service-init.js';
import { BURROW_IMAGE_FILES } from '../storage/image-recipes.js';
import type { SandboxDisks } from '../storage/sandbox-disks.js';
import { storedIdBase } from '../storage/ownership.js';
import type { Snapshots } from '../storage/snapshots.js';
import type { Checkpoints } from './checkpoints.js';
import { Conflict, DomainError, VM_ARCHIVES } from './errors.js';
import { inNeedsOrder } from './services.js';
import { SANDBOX_USER, type SandboxManager } from './sandbox-manager.js';

const TAR_LAYER = 'application/vnd.oci.image.layer.v1.tar';
const CONFIG = 'application/vnd.oci.image.config.v1+json';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/**
 * Mounted over the disk at every boot, so whatever the upper directory holds there is a mount
 * point burrow made or a file the sandbox never saw: never the sandbox's own. The bundle of the
 * last boot names the mounts of that boot; these are there at every boot.
 */
const ALWAYS_MOUNTED = ['/proc', '/sys', '/dev', '/tmp', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/.burrow', '/run/burrow'];

export interface ImageExportDeps {
  manager: SandboxManager;
  checkpoints: Checkpoints;
  snapshots: Snapshots;
  disks: SandboxDisks;
  services: ServiceStore;
  baseLayers: BaseLayers;
  /** Secrets granted to the sandbox (by its name), and the variable each is in. */
  grantsOf(sandbox: string): Array<{ secret: string; env: string | null }>;
}

export interface ExportOptions {
  checkpoint?: string;
  format?: ArchiveFormat;
  tag?: string;
}

export interface PreparedExport {
  checkpoint: string;
  /** Whether the export took the checkpoint itself (the sandbox had none named). */
  tookCheckpoint: boolean;
  tag: string;
  baseLayerCached: boolean;
  manifestDigest: string;
  /** What the image leaves out of the sandbox (device nodes, oversized files). */
  skipped: Skipped[];
  /** Secrets the app used through burrow: in production they must be real environment variables. */
  secrets: Array<{ secret: string; env: string | null }>;
  /** The archive's bytes; packs the sandbox's layer a second time. */
  chunks(): AsyncGenerator<Buffer>;
}

/** How long an export waits for its image's base layer before it answers 503 (clients wait for headers about 5 minutes). */
const BASE_LAYER_WAIT_MS = 60_000;
const BASE_LAYER_RETRY_S = 20;

const TAG = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/;

/** Checkpoints whose changes layer's measure is kept (a few hundred bytes each). */
const MEASURES_KEPT = 256;

export class ImageExports {
  /** Measures of checkpoints' changes layers, by checkpoint and recipe; oldest first. */
  private readonly measures = new Map<string, Promise<Measured>>();

  constructor(private readonly deps: ImageExportDeps) {}

  /** Everything but the bytes: checkpoint taken, layers measured, config and manifest made. */
  async prepare(name: string, opts: ExportOptions = {}): Promise<PreparedExport> {
    const { manager, checkpoints, snapshots, disks } = this.deps;
    const tag = opts.tag ?? `${name}:${opts.checkpoint ?? 'latest'}`;
    if (!TAG.test(tag)) throw new DomainError('invalid_request', `'${tag.slice(0, 200)}' is not an image name (like app or app:1 or registry.example/team/app:1)`);
    const record = manager.get(name);
    if (record.runtime === 'vm') throw new Conflict(VM_ARCHIVES);
    const imagePath = manager.imagePathOf(record);
    // Before any checkpoint is taken: a client told to come back must not leave one behind.
    const base = await this.deps.baseLayers.ready(record.image, imagePath, BASE_LAYER_WAIT_MS);
    if (!base) {
      throw new DomainError(
        'unavailable',
        `the base layer of image ${record.image} is being built (once per image on this machine; minutes for a large image): try again shortly`,
        { retry_after_seconds: BASE_LAYER_RETRY_S },
      );
    }
    const checkpoint = opts.checkpoint
      ? await checkpoints.get(name, opts.checkpoint)
      : await checkpoints.createAutomatic(name, 'export');
    const snapshot = snapshots.path(record.id, checkpoint.id);
    const changesRecipe = treeLayer(join(snapshot, 'upper'), {
      kind: 'upper',
      idBase: await storedIdBase(snapshot),
      exclude: await this.burrowMountsOf(record.id),
      maxFileBytes: record.storageGb * 2 ** 30,
    });
    const changes = await this.measureChanges(`${record.id}/${checkpoint.id}@${checkpoint.createdAt}`, changesRecipe);
    const services = inNeedsOrder(this.deps.services.forSandbox(record.id).filter((s) => s.wanted));
    const initRecipe = filesLayer(
      initFiles(services.map((s) => ({ name: s.name, cmd: s.cmd, args: s.args, env: s.env, dir: s.dir ?? SANDBOX_USER.home }))),
    );
    const init = await measureLayer(initRecipe);

    const env: Record<string, string> = { PATH: DEFAULT_PATH, HOME: SANDBOX_USER.home, USER: SANDBOX_USER.name, LANG: 'C.UTF-8', ...record.environment };
    const ports = [...new Set(services.flatMap((s) => (s.httpPort ? [s.httpPort] : [])))].sort((a, b) => a - b);
    const created = checkpoint.createdAt;
    const config = jsonBlob(CONFIG, {
      created,
      architecture: 'amd64',
      os: 'linux',
      config: {
        User: SANDBOX_USER.name,
        WorkingDir: SANDBOX_USER.home,
        Env: Object.keys(env).sort().map((k) => `${k}=${env[k]}`),
        Entrypoint: [INIT],
        ...(ports.length ? { ExposedPorts: Object.fromEntries(ports.map((p) => [`${p}/tcp`, {}])) } : {}),
        Labels: {
          'dev.burrow.sandbox': name,
          'dev.burrow.checkpoint': checkpoint.id,
          'dev.burrow.image': record.image,
          [SERVICES_LABEL]: JSON.stringify(describeServices(services)),
        },
      },
      rootfs: { type: 'layers', diff_ids: [base.diffId, changes.digest, init.digest] },
      history: [
        { created, created_by: `burrow image ${record.image}` },
        { created, created_by: `burrow sandbox ${name} at checkpoint ${checkpoint.id}` },
        { created, created_by: 'burrow-init: the sandbox services' },
      ],
    });
    const layers: Blob[] = [
      this.deps.baseLayers.blob(record.image, base),
      streamed(changesRecipe, changes.digest, changes.size),
      streamed(initRecipe, init.digest, init.size),
    ];
    const manifest = jsonBlob(MANIFEST, {
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: { mediaType: CONFIG, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    });
    const format = opts.format ?? 'oci';
    return {
      checkpoint: checkpoint.id,
      tookCheckpoint: !opts.checkpoint,
      tag,
      baseLayerCached: base.hit,
      manifestDigest: manifest.digest,
      skipped: [...changes.skipped, ...init.skipped],
      secrets: this.deps.grantsOf(name),
      chunks: () => archiveChunks({ manifest, config, layers, tag, format }),
    };
  }

  /**
   * The checkpoint's layer is the same bytes every time it is packed with the same recipe (the
   * snapshot is read-only; the key has the checkpoint's time, so a checkpoint deleted and made
   * again under its name is a new key), so it is measured once; the stream still checks it.
   */
  private measureChanges(checkpointKey: string, recipe: LayerRecipe): Promise<Measured> {
    const key = `${checkpointKey} ${JSON.stringify(recipe.args)}`;
    let measured = this.measures.get(key);
    if (!measured) {
      measured = measureLayer(recipe);
      measured.catch(() => this.measures.delete(key));
      this.measures.set(key, measured);
      for (const oldest of this.measures.keys()) {
        if (this.measures.size <= MEASURES_KEPT) break;
        this.measures.delete(oldest);
      }
    }
    return measured;
  }

  /** burrow's own paths: its files in the image, and where it mounts things (the last boot's bundle, and the fixed ones). */
  private async burrowMountsOf(sandboxId: string): Promise<string[]> {
    const bundle = join(this.deps.disks.hostDir(sandboxId), 'bundle', 'config.json');
    const text = await readFile(bundle, 'utf8').catch(() => '{}');
    const mounts = (JSON.parse(text) as { mounts?: Array<{ destination?: unknown }> }).mounts ?? [];
    const named = mounts.map((m) => m.destination).filter((d): d is string => typeof d === 'string');
    return [...new Set([...ALWAYS_MOUNTED, ...BURROW_IMAGE_FILES, ...named])].sort();
  }
}

/** The services as a service PUT names them, each needing only services the image has. */
function describeServices(services: ServiceRecord[]): ExportedService[] {
  const names = new Set(services.map((s) => s.name));
  return services.map((s) => ({
    name: s.name,
    cmd: s.cmd,
    args: s.args,
    env: s.env,
    ...(s.dir ? { dir: s.dir } : {}),
    needs: s.needs.filter((n) => names.has(n)),
    http_port: s.httpPort,
  }));
}

function streamed(recipe: LayerRecipe, digest: string, size: number): Blob {
  return { digest, size, mediaType: TAR_LAYER, open: () => runLayer(recipe).stream };
}
