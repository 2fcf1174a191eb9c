// What this host can give one sandbox at most: its cores, its memory and its pool. A limit
// beyond them would be accepted and never honoured (the cgroup caps nothing, the quota never
// bites before the pool is full), so create and limit changes refuse it instead.
import { statfsSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import type { SandboxRecord } from '../db/sandboxes.js';
import { DomainError } from './errors.js';

export interface HostSize {
  cpus: number;
  ramMb: number;
  /** The whole pool, in GiB (storage_gb units). */
  storageGb: number;
}

type SizeLimits = Partial<Pick<SandboxRecord, 'cpus' | 'ramMb' | 'storageGb'>>;

/** Measured on each call: the pool can be grown while burrow runs. */
export function measureHost(poolPath: string): HostSize {
  const pool = statfsSync(poolPath);
  return {
    cpus: availableParallelism(),
    ramMb: Math.floor(totalmem() / 2 ** 20),
    storageGb: Math.floor((pool.blocks * pool.bsize) / 2 ** 30),
  };
}

/** Throws `invalid_limits` naming every limit the host cannot give, with the host's figures. */
export function refuseBeyondHost(limits: SizeLimits, host: HostSize): void {
  const beyond: string[] = [];
  if (limits.cpus !== undefined && limits.cpus > host.cpus) {
    beyond.push(`cpus ${limits.cpus} (this host has ${host.cpus} cores)`);
  }
  if (limits.ramMb !== undefined && limits.ramMb > host.ramMb) {
    beyond.push(`ram_mb ${limits.ramMb} (this host has ${host.ramMb} MB of memory)`);
  }
  if (limits.storageGb !== undefined && limits.storageGb > host.storageGb) {
    beyond.push(`storage_gb ${limits.storageGb} (the storage pool holds ${host.storageGb} GB)`);
  }
  if (beyond.length) {
    throw new DomainError('invalid_limits', `more than this host can give: ${beyond.join(', ')}; ask for at most that`);
  }
}
