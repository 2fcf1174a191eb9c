// What burrow does when metering finds a live sandbox in trouble. gVisor sandboxes die whole
// when over their memory limit (the kernel kills the sandbox process); runc ones lose a process
// and keep running. A sandbox whose cgroup is left empty died underneath. Either way it is
// marked failed with the reason, in words and numbers, and boots again on its next use.
import type { SandboxRecord, SandboxStore } from '../db/sandboxes.js';
import type { Cgroup } from '../runtime/cgroup.js';
import type { EventRecorder } from './events.js';

/**
 * Records a death the metering found (SandboxManager does, under the sandbox's lock): false, and
 * nothing done, when the container runs after all or the death was already recorded.
 */
export interface DeathRecorder {
  markDied(name: string, type: 'oom_killed' | 'failed', reason: string, detail?: Record<string, unknown>): Promise<boolean>;
}

export interface HealthDeps {
  store: Pick<SandboxStore, 'byName'>;
  manager: DeathRecorder;
  cgroupOf(record: SandboxRecord): Pick<Cgroup, 'memoryFacts'>;
  events: EventRecorder;
}

type MemoryFacts = Awaited<ReturnType<Cgroup['memoryFacts']>>;

/**
 * Why a sandbox died, from its memory cgroup: `oom_killed` with the limit and the numbers when
 * the OOM killer acted in it, else `failed` (its runtime exited). One wording for every path
 * that finds a death: metering within a second, or a wake that finds the container gone.
 */
export function deathReason(
  record: Pick<SandboxRecord, 'ramMb' | 'runtime'>,
  facts: MemoryFacts,
): { type: 'oom_killed' | 'failed'; reason: string; detail: Record<string, unknown> } {
  const mb = (bytes: number | undefined) => (bytes === undefined ? '?' : String(Math.round(bytes / 2 ** 20)));
  const detail = {
    ram_mb: record.ramMb,
    peak_mb: facts ? Math.round(facts.peakBytes / 2 ** 20) : undefined,
    memory_failcnt: facts?.failcnt,
    oom_kills: facts?.oomKills,
  };
  const memory = `memory cgroup: oom_kill ${facts?.oomKills ?? '?'}, failcnt ${facts?.failcnt ?? '?'}, peak ${mb(facts?.peakBytes)} MB`;
  if (facts && facts.oomKills > 0) {
    return {
      type: 'oom_killed',
      reason: `killed out of memory: it needed more than its ram_mb limit of ${record.ramMb} MB (${memory}); it starts again on next use`,
      detail,
    };
  }
  return {
    type: 'failed',
    reason: `stopped underneath: its ${record.runtime} runtime exited unexpectedly (${memory}); it starts again on next use`,
    detail,
  };
}

export function healthReporter(deps: HealthDeps) {
  return async (name: string, finding: { oomKilled: boolean; stopped: boolean }): Promise<void> => {
    const record = deps.store.byName(name);
    if (!record) return;
    const facts = await deps.cgroupOf(record).memoryFacts();
    const death = deathReason(record, facts);
    if (finding.oomKilled || finding.stopped) {
      const died = await deps.manager.markDied(name, death.type, death.reason, death.detail);
      // Not marked: either it still runs (runc lost a process) or the death was already recorded.
      const now = deps.store.byName(name);
      if (!died && finding.oomKilled && (now?.status === 'running' || now?.status === 'warm')) {
        const process = death.reason.replace(/^killed out of memory/, 'a process was killed out of memory').replace(/; it starts again on next use$/, '; the sandbox keeps running');
        deps.events.record(record, 'oom_killed', process, death.detail);
      }
    }
  };
}
