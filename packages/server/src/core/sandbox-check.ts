// Whether a sandbox is alive, measured (`GET /v1/sprites/{name}/check`). A running sandbox is
// probed the way every command runs: PID 1 forks `/bin/true` as root. The probe holds the
// sandbox's lock, so the idle timer cannot freeze it halfway. A warm or cold sandbox is not
// probed, since that would wake it and reading is not use: a warm one gets the host-side check
// (its runtime's process still exists), a cold one reports what is recorded.
import { runAsRoot } from '../runtime/agent.js';
import type { SandboxRecord } from '../db/sandboxes.js';
import type { SandboxManager } from './sandbox-manager.js';

/**
 * `ok`: running and the probe answered. `unhealthy`: running but the probe failed (the reason
 * says how). `failed`: its container died; the next use boots it. `warm`, `cold`: asleep, not
 * probed. `creating`, `destroying`: in flight.
 */
export type CheckStatus = 'ok' | 'unhealthy' | 'failed' | 'warm' | 'cold' | 'creating' | 'destroying';

export interface SandboxCheck {
  sandbox: Pick<SandboxRecord, 'id' | 'name'>;
  status: CheckStatus;
  reason?: string;
  checkedAt: Date;
  /** How long the probe took, when one ran. */
  elapsedMs?: number;
}

const PROBE_TIMEOUT_MS = 10_000;

type Probe = { ok: true; elapsedMs: number } | { ok: false; elapsedMs: number; error: string } | { record: SandboxRecord };

export async function checkSandbox(manager: SandboxManager, name: string): Promise<SandboxCheck> {
  const checkedAt = new Date();
  const before = manager.get(name);
  if (before.status === 'warm' && !(await manager.checkAlive(before))) return asleepOrDown(manager.get(name), checkedAt);
  if (before.status !== 'running') return asleepOrDown(before, checkedAt);

  const probe = await manager.withLock(name, async (sandbox): Promise<Probe> => {
    const record = sandbox.record;
    if (record.status !== 'running') return { record };
    const started = performance.now();
    try {
      await runAsRoot(sandbox.runtime, record.containerId, ['/bin/true'], PROBE_TIMEOUT_MS);
      sandbox.sawRunning();
      return { ok: true, elapsedMs: performance.now() - started };
    } catch (e) {
      return { ok: false, elapsedMs: performance.now() - started, error: (e as Error).message };
    }
  });
  if ('record' in probe) return asleepOrDown(probe.record, checkedAt);
  const elapsedMs = Math.round(probe.elapsedMs * 10) / 10;
  if (probe.ok) return { sandbox: before, status: 'ok', checkedAt, elapsedMs };
  // A probe that fails because the container died marks the sandbox failed, with the reason.
  const alive = await manager.checkAlive(manager.get(name));
  if (!alive) return { ...asleepOrDown(manager.get(name), checkedAt), elapsedMs };
  return { sandbox: before, status: 'unhealthy', reason: `the probe (/bin/true through PID 1) failed: ${probe.error}`, checkedAt, elapsedMs };
}

function asleepOrDown(record: SandboxRecord, checkedAt: Date): SandboxCheck {
  const sandbox = { id: record.id, name: record.name };
  switch (record.status) {
    case 'warm':
      return { sandbox, status: 'warm', reason: 'frozen (warm): not probed, so as not to wake it; its runtime process is alive', checkedAt };
    case 'cold':
      return { sandbox, status: 'cold', reason: 'stopped (cold): not probed; its next use boots it', checkedAt };
    case 'failed':
      return { sandbox, status: 'failed', reason: record.failureReason ?? 'its container died; its next use boots it', checkedAt };
    case 'running':
      return { sandbox, status: 'ok', reason: 'it booted again while it was checked', checkedAt };
    default:
      return { sandbox, status: record.status, reason: `the sandbox is ${record.status}`, checkedAt };
  }
}
