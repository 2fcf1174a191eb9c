// Per-sandbox resource limits after create: stored for the next boot and, on a live sandbox,
// applied at once (cgroups for CPU, memory and processes; the btrfs quota group for disk).
import type { SandboxRecord, SandboxStore } from '../db/sandboxes.js';
import type { SandboxDisks } from '../storage/sandbox-disks.js';
import { SandboxBusy, Conflict } from './errors.js';
import type { Capacity } from './capacity.js';
import type { EventRecorder } from './events.js';
import type { SandboxManager } from './sandbox-manager.js';

export type Limits = Pick<SandboxRecord, 'cpus' | 'ramMb' | 'storageGb' | 'pidsLimit'>;

export interface SandboxLimitsDeps {
  manager: SandboxManager;
  store: SandboxStore;
  disks: SandboxDisks;
  events: EventRecorder;
  capacity: Pick<Capacity, 'refuseBeyondHost'>;
  /** Whether btrfs quota groups are on, so that storage_gb can be enforced. */
  storageLimits: boolean;
}

export class SandboxLimits {
  constructor(private readonly deps: SandboxLimitsDeps) {}

  /**
   * At start: the database holds each sandbox's limits; a change that a crash cut short (cgroup
   * written, row not) is undone by applying the stored limits to every live sandbox again.
   * Returns the names it could not apply to, with why.
   */
  async reapplyAll(): Promise<string[]> {
    const failed: string[] = [];
    for (const record of this.deps.store.all()) {
      if (record.status !== 'running' && record.status !== 'warm') continue;
      if (record.runtime === 'vm') continue; // sized at boot, from the row
      try {
        await this.deps.manager.cgroupOf(record).setLimits(record, record.runtime);
        if (this.deps.storageLimits) await this.deps.disks.limitSize(record.id, record.storageGb * 2 ** 30);
      } catch (e) {
        failed.push(`${record.name} (${(e as Error).message})`);
      }
    }
    return failed;
  }

  async update(name: string, patch: Partial<Limits>): Promise<SandboxRecord> {
    const { manager } = this.deps;
    this.deps.capacity.refuseBeyondHost(patch);
    return manager.withLock(name, async (sandbox) => {
      const record = sandbox.record;
      if (record.status === 'creating' || record.status === 'destroying') {
        throw new SandboxBusy(record);
      }
      const old: Limits = { cpus: record.cpus, ramMb: record.ramMb, storageGb: record.storageGb, pidsLimit: record.pidsLimit };
      const next: Limits = {
        cpus: patch.cpus ?? old.cpus,
        ramMb: patch.ramMb ?? old.ramMb,
        storageGb: patch.storageGb ?? old.storageGb,
        pidsLimit: patch.pidsLimit ?? old.pidsLimit,
      };
      if (record.runtime === 'vm') {
        // A VM's vCPUs, RAM and disk are fixed when it boots: the next boot takes the new ones.
        // Its disk only grows (shrinking it would cut off the end of its filesystem).
        if (next.storageGb < old.storageGb) throw new Conflict(`the disk of '${name}', a vm sandbox, can grow but not shrink (it is ${old.storageGb} GB)`);
      } else if (record.status === 'running' || record.status === 'warm') {
        const cgroup = sandbox.cgroup;
        try {
          await cgroup.setLimits(next, record.runtime);
        } catch (e) {
          await cgroup.setLimits(old, record.runtime).catch(() => {});
          throw new Conflict(`the limits of '${name}' were not changed: ${(e as Error).message}`);
        }
      }
      if (next.storageGb !== old.storageGb && this.deps.storageLimits && record.runtime !== 'vm') {
        await this.deps.disks.limitSize(record.id, next.storageGb * 2 ** 30);
      }
      this.deps.store.setLimits(record.id, next);
      const changed = (Object.keys(next) as Array<keyof Limits>).filter((k) => next[k] !== old[k]);
      if (changed.length) {
        const what = changed.map((k) => `${k} ${old[k]} -> ${next[k]}`).join(', ');
        this.deps.events.record(record, 'limits_changed', `limits changed: ${what}`, { before: old, after: next });
      }
      return manager.get(name);
    });
  }
}
