// How a sandbox runs: each boot is a runtime container of its own id (`<sandbox id>-<6 hex>`,
// recorded before it starts) over the sandbox's network namespace and mounted disk, limited by a
// cgroup named after the container. The manager (sandbox-manager.ts) decides when sandboxes
// start, sleep and stop; this module knows how, and remembers which containers were lately seen
// alive, so that not every use of a sandbox costs a runtime call. Only the manager holds this
// object: what changes a container is reached through LockedSandbox, under the sandbox's lock.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SandboxRecord, SandboxStore } from '../db/sandboxes.js';
import type { AttachedMachineNetwork, AttachedNetwork, SandboxNetworks } from '../network/sandbox-network.js';
import { Cgroup } from '../runtime/cgroup.js';
import { AGENT_SOCKET, runAsRoot } from '../runtime/agent.js';
import { bundleConfig, type BundleRoot } from '../runtime/oci-bundle.js';
import type { RuntimeSet } from '../runtime/runtimes.js';
import type { ImageStore } from '../storage/images.js';
import { FIRST_ID_BASE, ID_RANGE_SIZE } from '../storage/ownership.js';
import type { SandboxDisks } from '../storage/sandbox-disks.js';
import type { SandboxHooks } from './sandbox-hooks.js';
import type { BootPrivileges } from './privileges.js';

export interface ContainerDeps {
  store: SandboxStore;
  runtimes: RuntimeSet;
  disks: SandboxDisks;
  images: ImageStore;
  network: SandboxNetworks;
  /** Prefix of host-global names (cgroups) owned by this instance. */
  instanceTag: string;
  /** Whether btrfs quota groups are on, so that storage_gb is enforced at each boot. */
  storageLimits: boolean;
  /** Whether runc sandboxes boot in a user namespace of their own (see Config.runcUserNamespace). */
  runcUserNamespace: boolean;
  /** Test hook: called at each named step; kills the daemon when the step was asked for. */
  crashPoint: (step: string) => void;
  /** What each boot grants the processes inside (the sandbox's privileges policy); none: the defaults. */
  privileges?: (sandboxId: string) => BootPrivileges;
}

/** How long closing PID 1's socket to all but root may take before the boot fails. */
const CLOSE_SUDO_TIMEOUT_MS = 30_000;

/**
 * How long a container seen running is taken to still run. Asking the runtime costs a process
 * launch (~25 ms under runsc), too much to pay on every exec; a container that died since is
 * caught by the next check, at most this much later.
 */
const LIVENESS_TTL_MS = 2_000;

const CONTAINER_ID_SEPARATOR = '-';

/** The sandbox a container (`<sandbox id>-<6 hex>`) is a boot of. */
export function sandboxIdOf(containerId: string): string {
  return containerId.split(CONTAINER_ID_SEPARATOR)[0]!;
}

export class SandboxContainers {
  /** When each sandbox's container was last seen running, by sandbox id. */
  private readonly seenRunning = new Map<string, number>();
  /** Containers of earlier boots being killed and deleted in the background, by container id. */
  private readonly retiring = new Map<string, Promise<void>>();
  /** Host process of each live container (by container id), so liveness checks cost a signal 0, not a runtime call. */
  private readonly pids = new Map<string, number>();

  constructor(
    private readonly deps: ContainerDeps,
    /** The hooks of the features built on sandboxes, which may be added after this is built. */
    private readonly hooks: () => SandboxHooks | undefined,
  ) {}

  runtimeOf(record: Pick<SandboxRecord, 'runtime'>) {
    return this.deps.runtimes[record.runtime];
  }

  /** The read-only image subvolume under the sandbox's disk. */
  imagePath(record: SandboxRecord): string {
    return this.deps.images.pathOf(record.image);
  }

  /** The cgroup (below each controller's root) that a container's processes are limited by. */
  cgroupPathOf(containerId: string): string {
    return `/burrow-${this.deps.instanceTag}-${containerId}`;
  }

  /** The sandbox's cgroup (the one path runtime, limits and metering agree on). */
  cgroupOf(record: Pick<SandboxRecord, 'containerId'>): Cgroup {
    return new Cgroup(this.cgroupPathOf(record.containerId));
  }

  /** Notes that the sandbox's container was just seen running. */
  sawRunning(sandboxId: string): void {
    this.seenRunning.set(sandboxId, Date.now());
  }

  recentlySeenRunning(sandboxId: string): boolean {
    const at = this.seenRunning.get(sandboxId);
    return at !== undefined && Date.now() - at < LIVENESS_TTL_MS;
  }

  /** Forgets what was known of the sandbox's container: it stopped, died, or is about to. */
  forget(record: Pick<SandboxRecord, 'id' | 'containerId'>): void {
    this.seenRunning.delete(record.id);
    this.pids.delete(record.containerId);
  }

  /** Whether the container's host process still exists: a signal 0, after one runtime call per boot. */
  async hostProcessLives(record: SandboxRecord): Promise<boolean> {
    let pid = this.pids.get(record.containerId);
    if (pid === undefined) {
      pid = await this.runtimeOf(record).hostPid(record.containerId);
      if (pid > 0) this.pids.set(record.containerId, pid);
    }
    return pid > 0 && processExists(pid);
  }

  /**
   * Network, disk mount, bundle, container: each step skips what already exists. Each boot runs
   * in a new container, whose id is recorded before it starts. Reached through LockedSandbox, so
   * the caller holds the sandbox's lock.
   */
  async boot(record: SandboxRecord): Promise<void> {
    const { network, store, crashPoint } = this.deps;
    const runtime = this.runtimeOf(record);
    const containerId = `${record.id}${CONTAINER_ID_SEPARATOR}${randomBytes(3).toString('hex')}`;
    const net = record.runtime === 'vm' ? await network.attachMachine(record.id) : await network.attach(record.id);
    crashPoint('create:netns');
    const idBase = this.idBaseOf(record);
    const { root, lower } = await this.prepareRoot(record, idBase);
    crashPoint('create:mounted');
    const mounts = { ...net.mounts, ...(await this.hooks()?.bootMounts(record, lower)) };
    const privileges = this.deps.privileges?.(record.id) ?? { noNewPrivileges: false };
    const bundleDir = await this.writeBundle(record, containerId, root, net, mounts, privileges, idBase);
    crashPoint('create:bundle');
    // The container of the previous boot, stopped or dead, unless it is already being retired.
    const previous = store.byId(record.id)?.containerId;
    if (previous && !this.retiring.has(previous)) await runtime.remove(previous);
    store.setContainerId(record.id, containerId);
    await runtime.start(containerId, bundleDir);
    crashPoint('create:started');
    if (privileges.noNewPrivileges) await this.closeSudo(record, containerId);
    const booted = store.byName(record.name) ?? record;
    await this.hooks()?.started?.(booted, runtime);
    this.sawRunning(record.id);
    setImmediate(() => this.hooks()?.booted?.(booted));
  }

  /**
   * The bundle's root and the image as the sandbox sees it. A container's root is its disk
   * mounted over the image, capped by the subvolume's quota; a VM's is its disk image file, whose
   * size is the cap (a quota would fail the guest's writes as I/O errors instead).
   */
  private async prepareRoot(record: SandboxRecord, idBase: number): Promise<{ root: BundleRoot; lower: string }> {
    const { disks, images } = this.deps;
    const image = { id: record.image, path: images.pathOf(record.image) };
    const bytes = record.storageGb * 2 ** 30;
    if (record.runtime === 'vm') {
      return { root: { rootfs: await disks.ensureMachineDisk(record.id, image, bytes) }, lower: image.path };
    }
    const { rootfs, lower } = await disks.mount(record.id, image.path, idBase);
    if (this.deps.storageLimits) await disks.limitSize(record.id, bytes);
    return { root: { rootfs, tmpDir: await disks.tmpDir(record.id, idBase) }, lower };
  }

  /**
   * No new privileges stops the real sudo (set-user-ID) but not the agent's, which asks PID 1
   * over its socket: that socket is made root's alone before anything else runs in this boot.
   * If that fails the boot fails, and the container is killed rather than left with sudo open.
   */
  private async closeSudo(record: SandboxRecord, containerId: string): Promise<void> {
    const runtime = this.runtimeOf(record);
    try {
      await runAsRoot(runtime, containerId, ['/bin/chmod', '0600', AGENT_SOCKET], CLOSE_SUDO_TIMEOUT_MS);
    } catch (e) {
      await runtime.kill(containerId);
      throw new Error(`closing sudo for its no-new-privileges policy failed: ${(e as Error).message}`);
    }
  }

  /**
   * The first host id of the sandbox's user namespace: a range of its own under runc (given at
   * its first boot, older sandboxes included), 0 under gVisor, whose own kernel stands between
   * the sandbox's root and the host, and 0 when user namespaces are turned off. A range once
   * given stays recorded, so turning them on again gives the sandbox the same one.
   */
  private idBaseOf(record: SandboxRecord): number {
    if (record.runtime !== 'runc' || !this.deps.runcUserNamespace) return 0;
    return this.deps.store.assignIdBase(record.id, FIRST_ID_BASE, ID_RANGE_SIZE);
  }

  private async writeBundle(
    record: SandboxRecord,
    containerId: string,
    root: BundleRoot,
    net: AttachedNetwork | AttachedMachineNetwork,
    mounts: Record<string, string>,
    privileges: BootPrivileges,
    idBase: number,
  ): Promise<string> {
    const dir = this.deps.disks.hostDir(record.id);
    const etc = join(dir, 'etc');
    const bundle = join(dir, 'bundle');
    await mkdir(etc, { recursive: true });
    await mkdir(bundle, { recursive: true });
    await writeFile(join(etc, 'hostname'), `${record.name}\n`);
    await writeFile(
      join(etc, 'hosts'),
      `127.0.0.1\tlocalhost\n127.0.1.1\t${record.name}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
    );
    const config = bundleConfig({
      runtime: record.runtime,
      hostname: record.name,
      ...root,
      netnsPath: net.netnsPath,
      machineNetwork: 'link' in net ? net.link : undefined,
      cgroupsPath: this.cgroupPathOf(containerId),
      cpus: record.cpus,
      ramMb: record.ramMb,
      pidsLimit: record.pidsLimit,
      noNewPrivileges: privileges.noNewPrivileges,
      idMapping: idBase === 0 ? undefined : { base: idBase, size: ID_RANGE_SIZE },
      files: { '/etc/hostname': join(etc, 'hostname'), '/etc/hosts': join(etc, 'hosts'), ...mounts },
    });
    await writeFile(join(bundle, 'config.json'), JSON.stringify(config, null, 2));
    return bundle;
  }

  /**
   * Stops every process of the sandbox now and unmounts its disk (subvolume and namespace stay),
   * leaving the container's cleanup to the background: a killed gVisor sandbox takes 1-2 s to
   * die on the ptrace platform, and the next boot runs in a container of its own id anyway.
   * Reached through LockedSandbox, so the caller holds the sandbox's lock.
   */
  async retire(record: SandboxRecord): Promise<void> {
    this.forget(record);
    const runtime = this.runtimeOf(record);
    const { containerId } = record;
    if (containerId) {
      await runtime.kill(containerId);
      // A removal that fails here leaves a container no row names; the reconciler deletes it.
      const removal = runtime
        .remove(containerId)
        .catch(() => {})
        .finally(() => this.retiring.delete(containerId));
      this.retiring.set(containerId, removal);
    }
    // Lazily: the dying sandbox's file server may still hold files open under the mount.
    await this.deps.disks.unmount(record.id, { lazy: true });
  }

  /**
   * Stops every process of the sandbox's running container, for a consistent snapshot of its
   * disk: through the cgroup freezer when the host has one (about 1 ms), else the runtime's pause.
   */
  async freeze(record: SandboxRecord): Promise<void> {
    const cgroup = this.cgroupOf(record);
    if (await cgroup.hasFreezer()) await cgroup.freeze();
    else await this.runtimeOf(record).pause(record.containerId);
  }

  /** Undoes `freeze`. */
  async thaw(record: SandboxRecord): Promise<void> {
    const cgroup = this.cgroupOf(record);
    if (await cgroup.hasFreezer()) await cgroup.thaw();
    else await this.runtimeOf(record).resume(record.containerId);
  }

  /**
   * On start: thaws a container that a crashed daemon left frozen for a snapshot (runsc cannot
   * even report the state of a frozen gVisor sandbox), and a VM's filesystem it left frozen. A
   * warm sandbox stays paused: the runtime's pause does not use the freezer cgroup.
   */
  async thawAfterCrash(record: SandboxRecord): Promise<void> {
    if (!record.containerId) return;
    await this.cgroupOf(record).thaw();
    // A guest that does not answer is judged by its state next, as any other.
    await this.runtimeOf(record).thawFilesystem?.(record.containerId).catch(() => {});
  }

  /** Removes containers, mount, network and subvolume. Idempotent, so a crash can repeat it. */
  async teardown(record: Pick<SandboxRecord, 'id' | 'runtime' | 'containerId'>): Promise<void> {
    this.forget(record);
    const containerId = this.deps.store.byId(record.id)?.containerId ?? record.containerId;
    if (containerId) await this.runtimeOf(record).remove(containerId);
    const retiring = [...this.retiring].filter(([id]) => sandboxIdOf(id) === record.id);
    await Promise.all(retiring.map(([, removal]) => removal));
    await this.deps.disks.remove(record.id);
    await this.deps.network.detach(record.id);
    await this.hooks()?.tornDown(record.id);
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
