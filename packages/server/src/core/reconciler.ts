// On every start, the reconciler compares what the database says with what exists on the host
// (containers, mounts, subvolumes, namespaces) and repairs the difference: half-made sandboxes
// are removed, half-destroyed ones are finished, anything of ours that no row owns is deleted,
// and each sandbox's status is made to match its container: gone (host reboot) is cold, to start
// on next use; frozen is warm; running is running; a cold sleep cut short is finished.
import type { SandboxStore } from '../db/sandboxes.js';
import type { SandboxNetworks } from '../network/sandbox-network.js';
import type { RuntimeSet } from '../runtime/runtimes.js';
import type { ImageStore } from '../storage/images.js';
import type { SandboxDisks } from '../storage/sandbox-disks.js';
import type { SandboxManager } from './sandbox-manager.js';
import { SandboxStatuses } from './sandbox-status.js';

export interface ReconcileReport {
  rolledBack: string[];
  finishedDestroy: string[];
  markedCold: string[];
  markedWarm: string[];
  markedRunning: string[];
  orphansRemoved: string[];
}

export interface ReconcilerDeps {
  store: SandboxStore;
  manager: SandboxManager;
  runtimes: RuntimeSet;
  disks: SandboxDisks;
  network: SandboxNetworks;
  images: ImageStore;
  /** The writer of status changes (default: one over `store` that throws on an illegal one). */
  statuses?: SandboxStatuses;
  /** Finishes or undoes interrupted checkpoint operations (core/checkpoints.ts), after the sandboxes. */
  checkpoints?: { repair(): Promise<Record<string, string[]>> };
}

export async function reconcile(deps: ReconcilerDeps): Promise<ReconcileReport & Record<string, string[]>> {
  const report: ReconcileReport = {
    rolledBack: [],
    finishedDestroy: [],
    markedCold: [],
    markedWarm: [],
    markedRunning: [],
    orphansRemoved: [],
  };
  const { store, manager, runtimes } = deps;
  const statuses = deps.statuses ?? new SandboxStatuses(store);

  await deps.images.removePartialImports();

  for (const record of store.all()) {
    if (record.status === 'creating' || record.status === 'destroying') {
      await manager.containers.teardown(record);
      store.delete(record.id);
      (record.status === 'creating' ? report.rolledBack : report.finishedDestroy).push(record.name);
      continue;
    }
    await manager.containers.thawAfterCrash(record);
    const state = await runtimes[record.runtime].state(record.containerId);
    const gone = state !== 'running' && state !== 'paused';
    if (gone && (record.status === 'running' || record.status === 'warm')) {
      statuses.move(record.id, 'cold');
      report.markedCold.push(record.name);
    } else if (!gone && (record.status === 'cold' || record.status === 'failed')) {
      // Being stopped on purpose when the daemon died: finish it.
      await manager.containers.retire(record);
      report.markedCold.push(record.name);
    } else if (state === 'paused' && record.status === 'running') {
      statuses.move(record.id, 'warm');
      report.markedWarm.push(record.name);
    } else if (state === 'running' && record.status === 'warm') {
      statuses.move(record.id, 'running');
      report.markedRunning.push(record.name);
    }
  }

  const known = new Set(store.all().map((r) => r.id));
  // Containers of earlier boots (a restore retires them in the background) are orphans too.
  const current = new Set(store.all().map((r) => r.containerId));
  for (const runtime of Object.values(runtimes)) {
    for (const { id } of await runtime.list()) {
      if (!current.has(id)) {
        await runtime.remove(id);
        report.orphansRemoved.push(`${runtime.kind} container ${id}`);
      }
    }
  }
  for (const id of await deps.disks.listIds()) {
    if (!known.has(id)) {
      await deps.disks.remove(id);
      report.orphansRemoved.push(`disk ${id}`);
    }
  }
  // Also rebuilds the firewall from the database: running sandboxes keep their traffic.
  report.orphansRemoved.push(...(await deps.network.orphans(known)));
  return { ...report, ...(await deps.checkpoints?.repair()) };
}
