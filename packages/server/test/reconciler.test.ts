// The reconciler against fakes of every layer below core/: it must turn any mix of half-made
// and orphaned state into exactly what the database says.
import { describe, expect, it } from 'vitest';
import { Capacity } from '../src/core/capacity.js';
import { reconcile } from '../src/core/reconciler.js';
import { SandboxManager } from '../src/core/sandbox-manager.js';
import { openDatabase } from '../src/db/database.js';
import { SandboxStore, type SandboxRecord, type SandboxStatus } from '../src/db/sandboxes.js';
import type { SandboxNetworks } from '../src/network/sandbox-network.js';
import type { ContainerState, SandboxRuntime } from '../src/runtime/runtime.js';
import type { RuntimeSet } from '../src/runtime/runtimes.js';
import type { ImageStore } from '../src/storage/images.js';
import type { SandboxDisks } from '../src/storage/sandbox-disks.js';

function fakeHost() {
  const containers = new Map<string, ContainerState>();
  const disks = new Set<string>();
  const namespaces = new Set<string>();
  const runtime = {
    kind: 'gvisor',
    isolation: 'fake',
    state: async (id: string) => containers.get(id) ?? 'missing',
    list: async () => [...containers].map(([id, state]) => ({ id, state })),
    remove: async (id: string) => void containers.delete(id),
  } as unknown as SandboxRuntime;
  const runtimes = { gvisor: runtime, runc: { ...runtime, list: async () => [] } } as unknown as RuntimeSet;
  const diskLayer = {
    remove: async (id: string) => void disks.delete(id),
    listIds: async () => [...disks],
  } as unknown as SandboxDisks;
  const network = {
    detach: async (id: string) => void namespaces.delete(id),
    orphans: async (known: Set<string>) => {
      const stale = [...namespaces].filter((id) => !known.has(id));
      for (const id of stale) namespaces.delete(id);
      return stale.map((id) => `netns ${id}`);
    },
  } as unknown as SandboxNetworks;
  const images = { removePartialImports: async () => {} } as unknown as ImageStore;
  return { containers, disks, namespaces, runtimes, diskLayer, network, images };
}

function record(id: string, status: SandboxStatus): SandboxRecord {
  const now = new Date().toISOString();
  return {
    id, name: `box-${id}`, status, runtime: 'gvisor', image: 'dev-x', imageName: 'dev', cpus: 1, ramMb: 512,
    storageGb: 1, pidsLimit: 64, environment: {}, labels: [], urlSettings: { auth: 'sprite' }, failureReason: null,
    containerId: `${id}-b2`, createdAt: now, updatedAt: now, lastRunningAt: null, lastWarmingAt: null, warmAfterMs: null, coldAfterMs: null, idBase: null,
  };
}

describe('the reconciler', () => {
  it('rolls back creates, finishes destroys, marks vanished sandboxes cold and removes orphans', async () => {
    const host = fakeHost();
    const store = new SandboxStore(openDatabase(':memory:'));
    for (const [id, status] of [['half', 'creating'], ['dying', 'destroying'], ['alive', 'running'], ['rebooted', 'running']] as const) {
      store.insert(record(id, status));
      host.disks.add(id);
      host.namespaces.add(id);
    }
    host.containers.set('half-b2', 'running');
    host.containers.set('alive-b2', 'running');
    host.containers.set('alive-b1', 'stopped'); // an earlier boot, retired by a restore
    host.containers.set('stray-b1', 'running');
    host.disks.add('stray');
    host.namespaces.add('stray');

    const manager = new SandboxManager({
      store, runtimes: host.runtimes, disks: host.diskLayer, images: host.images, network: host.network,
      instanceTag: 'test', capacity: new Capacity(store, { running: 1, warm: 1 }, 0, () => ({ cpus: 2, ramMb: 4096, storageGb: 20 })), storageRoom: { assertPoolRoom: async () => {} }, crashPoint: () => {},
      events: { record: () => {} }, metrics: { execStarted: () => {}, woke: () => {} }, storageLimits: false, runcUserNamespace: true,
    });
    const report = await reconcile({ store, manager, runtimes: host.runtimes, disks: host.diskLayer, network: host.network, images: host.images });

    expect(report.rolledBack).toEqual(['box-half']);
    expect(report.finishedDestroy).toEqual(['box-dying']);
    expect(report.markedCold).toEqual(['box-rebooted']);
    expect(store.all().map((r) => [r.id, r.status])).toEqual([['alive', 'running'], ['rebooted', 'cold']]);
    expect([...host.containers.keys()]).toEqual(['alive-b2']);
    expect([...host.disks].sort()).toEqual(['alive', 'rebooted']);
    expect([...host.namespaces].sort()).toEqual(['alive', 'rebooted']);
  });
});
