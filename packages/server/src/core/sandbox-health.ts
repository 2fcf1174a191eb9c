// What burrow does when metering finds a live sandbox in trouble. gVisor sandboxes die whole
// when over their memory limit (the kernel kills the sandbox process); runc ones lose a process
// and keep running. A sandbox whose cgroup is left empty died underneath. Either way it is
// marked failed with the reason, in words and numbers, and boots again on its next use.
import type { SandboxStore } from '../db/sandboxes.js';
import type { EventRecorder } from './events.js';
import type { SandboxManager } from './sandbox-manager.js';

export interface HealthDeps {
  store: Pick<SandboxStore, 'byName'>;
  manager: Pick<SandboxManager, 'cgroupOf' | 'markDied'>;
  events: EventRecorder;
}

export function healthReporter(deps: HealthDeps) {
  return async (name: string, finding: { oomKilled: boolean; stopped: boolean }): Promise<void> => {
    const record = deps.store.byName(name);
    if (!record) return;
    const facts = await deps.manager.cgroupOf(record).memoryFacts();
    const mb = (bytes: number | undefined) => (bytes === undefined ? '?' : String(Math.round(bytes / 2 ** 20)));
    const detail = {
      ram_mb: record.ramMb,
      peak_mb: facts ? Math.round(facts.peakBytes / 2 ** 20) : undefined,
      memory_failcnt: facts?.failcnt,
      oom_kills: facts?.oomKills,
    };
    const memory = `memory cgroup: oom_kill ${facts?.oomKills ?? '?'}, failcnt ${facts?.failcnt ?? '?'}, peak ${mb(facts?.peakBytes)} MB`;
    const outOfMemory = `out of memory: it needed more than its ram_mb limit of ${record.ramMb} MB (${memory})`;
    if (finding.oomKilled) {
      const died = await deps.manager.markDied(name, 'oom_killed', `killed ${outOfMemory}; it starts again on next use`, detail);
      // Not marked: either it still runs (runc lost a process) or the death was already recorded.
      const now = deps.store.byName(name);
      if (!died && (now?.status === 'running' || now?.status === 'warm')) {
        deps.events.record(record, 'oom_killed', `a process was killed ${outOfMemory}; the sandbox keeps running`, detail);
      }
    } else if (finding.stopped) {
      await deps.manager.markDied(name, 'failed', `stopped underneath (no process left; ${memory}); it starts again on next use`, detail);
    }
  };
}
