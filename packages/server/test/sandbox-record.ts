// A sandbox row as unit tests need one: every field set, the ones a test cares about given.
import type { SandboxRecord } from '../src/db/sandboxes.js';

export function sandboxRecord(patch: Partial<SandboxRecord> & Pick<SandboxRecord, 'id' | 'name'>): SandboxRecord {
  return {
    status: 'running',
    runtime: 'gvisor',
    image: 'dev-0',
    imageName: 'dev',
    cpus: 1,
    ramMb: 512,
    storageGb: 10,
    pidsLimit: 4096,
    environment: {},
    labels: [],
    urlSettings: { auth: 'sprite' },
    failureReason: null,
    containerId: '',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    lastRunningAt: null,
    lastWarmingAt: null,
    warmAfterMs: null,
    coldAfterMs: null,
    idBase: null,
    ...patch,
  };
}
