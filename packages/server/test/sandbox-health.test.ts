// What happens when metering finds a sandbox in trouble, against a fake manager: an OOM kill
// that took the sandbox down is one `oom_killed` event with the numbers; one that only cost a
// process says the sandbox keeps running; one already recorded elsewhere is not recorded twice.
import { describe, expect, it } from 'vitest';
import { healthReporter } from '../src/core/sandbox-health.js';
import type { SandboxRecord } from '../src/db/sandboxes.js';

function rig(opts: { dies: boolean; statusAfter: SandboxRecord['status']; oomKills?: number }) {
  let status: SandboxRecord['status'] = 'running';
  const events: string[] = [];
  const marked: string[] = [];
  const report = healthReporter({
    store: { byName: (name) => ({ id: 'a', name, status, ramMb: 256, runtime: 'gvisor', containerId: 'a-1' }) as SandboxRecord },
    cgroupOf: () => ({ memoryFacts: async () => ({ limitBytes: 256 << 20, peakBytes: 256 << 20, failcnt: 42, oomKills: opts.oomKills ?? 1 }) }),
    manager: {
      markDied: async (_name, type, reason) => {
        status = opts.statusAfter;
        if (opts.dies) marked.push(`${type}: ${reason}`);
        return opts.dies;
      },
    },
    events: { record: (_r, type, message) => void events.push(`${type}: ${message}`) },
  });
  return { report, events, marked };
}

describe('the health reporter', () => {
  it('marks a sandbox the OOM killer took down failed, with the limit and the cgroup numbers', async () => {
    const r = rig({ dies: true, statusAfter: 'failed' });
    await r.report('dev', { oomKilled: true, stopped: true });
    expect(r.marked).toEqual([
      'oom_killed: killed out of memory: it needed more than its ram_mb limit of 256 MB (memory cgroup: oom_kill 1, failcnt 42, peak 256 MB); it starts again on next use',
    ]);
    expect(r.events).toEqual([]);
  });

  it('says the sandbox keeps running when only a process was killed (runc)', async () => {
    const r = rig({ dies: false, statusAfter: 'running' });
    await r.report('dev', { oomKilled: true, stopped: false });
    expect(r.events).toEqual([expect.stringMatching(/^oom_killed: a process was killed out of memory.*keeps running$/)]);
  });

  it('records nothing more when the death was already recorded', async () => {
    const r = rig({ dies: false, statusAfter: 'failed' });
    await r.report('dev', { oomKilled: true, stopped: true });
    expect(r.events).toEqual([]);
  });

  it('marks a sandbox whose cgroup emptied as failed, stopped underneath', async () => {
    const r = rig({ dies: true, statusAfter: 'failed', oomKills: 0 });
    await r.report('dev', { oomKilled: false, stopped: true });
    expect(r.marked).toEqual([expect.stringMatching(/^failed: stopped underneath: its gvisor runtime exited unexpectedly \(memory cgroup: .*\); it starts again/)]);
  });
});
