// The isolation driver interface. core/ talks to sandboxes only through this: gVisor and runc
// (oci-runtime.ts), and QEMU microVMs (vm-runtime.ts).
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { RuntimeKind } from '../config.js';

export type ContainerState = 'running' | 'paused' | 'stopped' | 'missing';

/** Where a sandbox sees its newest checkpoints, read-only. */
export const VIEWS_INSIDE = '/.burrow/checkpoints';
/** How many of the newest checkpoints a sandbox sees there. */
export const VISIBLE_VIEWS = 5;

/** A checkpoint a VM shows at VIEWS_INSIDE/<id>: its disk, the checkpoint's copy. */
export interface CheckpointDisk {
  id: string;
  disk: string;
}

export interface ProcessSpec {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
}

export interface SandboxRuntime {
  readonly kind: RuntimeKind;
  /** One plain sentence for `burrow info`: what stands between this sandbox and the host. */
  readonly isolation: string;
  /**
   * Whether the sandbox runs on a kernel of its own (gVisor's, a VM's), whose page cache holds
   * written data until synced: a checkpoint runs `sync` inside first.
   */
  readonly ownKernel: boolean;
  /**
   * Whether the sandbox's sockets are in a network stack of its own (a VM's kernel) rather than
   * in its namespace on the host (gVisor runs on the host's stack there): the host then learns
   * of its listening ports only by asking inside.
   */
  readonly ownNetworkStack: boolean;
  /** Starts the container described by the OCI bundle, detached from the daemon. */
  start(containerId: string, bundleDir: string): Promise<void>;
  state(containerId: string): Promise<ContainerState>;
  /** Every container this runtime knows under burrow's root for this instance. */
  list(): Promise<Array<{ id: string; state: ContainerState }>>;
  /** Starts a process inside a running container, with pipes for stdio. */
  exec(containerId: string, process: ProcessSpec): ChildProcessWithoutNullStreams;
  /** Runs a process inside a running container to completion: its stdout; rejects if it fails or outlasts `timeoutMs`. */
  run(containerId: string, process: ProcessSpec, timeoutMs?: number): Promise<string>;
  /** The host process that holds the container (gVisor: the sandbox's kernel) while it runs or is paused; 0 if none. */
  hostPid(containerId: string): Promise<number>;
  /** Tasks (processes and threads) the container runs, as its runtime counts them; null if it cannot tell. */
  tasks(containerId: string): Promise<number | null>;
  /** Freezes every process of the container (memory kept); `runsc pause`, `runc pause`. */
  pause(containerId: string): Promise<void>;
  /** Thaws a paused container. */
  resume(containerId: string): Promise<void>;
  /**
   * SIGKILLs the container's processes and returns without waiting for them to be reaped (a
   * gVisor sandbox on the ptrace platform takes 1-2 s to die); `remove` cleans up after.
   */
  kill(containerId: string): Promise<void>;
  /** Kills and deletes the container; a container that does not exist is not an error. */
  remove(containerId: string): Promise<void>;
  /**
   * Only where a sandbox's memory can be kept (vm): writes the running sandbox's memory beside
   * its disk, where a checkpoint of the disk takes it along and the next start from that disk
   * resumes it. The sandbox is left paused.
   */
  saveMemory?(containerId: string): Promise<void>;
  /** Removes what saveMemory wrote, once a checkpoint holds it. */
  discardMemory?(containerId: string): Promise<void>;
  /**
   * Only where the bundle's host files are copies (vm): copies them in again, as they are now;
   * a container sees them through its bind mounts.
   */
  copyFilesIn?(containerId: string): Promise<void>;
  /**
   * Only where the guest's kernel writes the disk (vm): makes its filesystem clean on the disk
   * (its journal applied, as at an unmount) and holds every writer, so that a snapshot of the
   * disk mounts read-only as it is. Undone by thawFilesystem, which a filesystem not frozen
   * takes as done.
   */
  freezeFilesystem?(containerId: string): Promise<void>;
  thawFilesystem?(containerId: string): Promise<void>;
  /**
   * Only where the sandbox sees no host mounts (vm): shows these checkpoints (at most
   * VISIBLE_VIEWS) read-only at VIEWS_INSIDE/<id>, and no others. A container sees them through
   * a bind mount of the views the host mounts (storage/snapshots.ts).
   */
  showCheckpoints?(containerId: string, checkpoints: CheckpointDisk[]): Promise<void>;
}
