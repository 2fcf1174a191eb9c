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

  await deps.images.removePartialImports();

  for (const listed of store.all()) {
    await manager.withLock(listed.name, async (sandbox) => {
      const record = sandbox.record;
      if (record.status === 'creating' || record.status === 'destroying') {
        await sandbox.teardown();
        store.delete(record.id);
        (record.status === 'creating' ? report.rolledBack : report.finishedDestroy).push(record.name);
        return;
      }
      await sandbox.thawAfterCrash();
      const state = await sandbox.runtime.state(record.containerId);
      const gone = state !== 'running' && state !== 'paused';
      if (gone && (record.status === 'running' || record.status === 'warm')) {
        sandbox.move('cold');
        report.markedCold.push(record.name);
      } else if (!gone && (record.status === 'cold' || record.status === 'failed')) {
        // Being stopped on purpose when the daemon died: finish it.
        await sandbox.retire();
        report.markedCold.push(record.name);
      } else if (state === 'paused' && record.status === 'running') {
        sandbox.move('warm');
        report.markedWarm.push(record.name);
      } else if (state === 'running' && record.status === 'warm') {
        sandbox.move('running');
        report.markedRunning.push(record.name);
      }
    });
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
