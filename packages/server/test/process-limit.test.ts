// The process-limit watch on made-up cgroup readings: a runc sandbox whose forks are refused is
// recorded once per episode, shown as exhausted until it has had room for a while, and refused
// commands meanwhile; a gVisor sandbox is judged by the tasks its own kernel counts.
import { describe, expect, it } from 'vitest';
import { httpStatusOf } from '../src/api/errors.js';
import type { DomainError } from '../src/core/errors.js';
import { ProcessLimitWatch } from '../src/core/process-limit.js';
import type { CgroupReading } from '../src/runtime/cgroup.js';
import { sandboxRecord } from './sandbox-record.js';

function rig(guestTasks: number | null = null) {
  let now = 0;
  const events: string[] = [];
  const watch = new ProcessLimitWatch({
    events: { record: (_r, type, message) => void events.push(`${type}: ${message}`) },
    guestTasks: async () => guestTasks,
    now: () => now,
  });
  return { watch, events, advance: (ms: number) => (now += ms) };
}

const reading = (pids: Partial<CgroupReading>): CgroupReading => ({
  cpuNs: 0,
  memoryBytes: 0,
  oomKills: 0,
  alive: true,
  pidsCurrent: 10,
  pidsMax: 256,
  pidsRefused: 0,
  ...pids,
});

const runc = sandboxRecord({ id: 'a', name: 'bomb', runtime: 'runc', pidsLimit: 256, containerId: 'a-1' });

describe('the process-limit watch', () => {
  it('records one pids_exhausted event per episode and refuses commands until the sandbox has had room for 10 s', () => {
    const r = rig();
    r.watch.observe(runc, reading({ pidsRefused: 5 })); // refusals before the first reading are history
    expect(r.watch.isExhausted(runc)).toBe(false);

    r.watch.observe(runc, reading({ pidsCurrent: 256, pidsRefused: 90 }));
    r.advance(1000);
    r.watch.observe(runc, reading({ pidsCurrent: 256, pidsRefused: 300 }));
    expect(r.watch.isExhausted(runc)).toBe(true);
    expect(r.events).toEqual([expect.stringMatching(/^pids_exhausted: reached its limit of 256 processes and threads: .*burrow kill bomb/)]);
    expect(() => r.watch.assertRoom(runc, reading({ pidsCurrent: 100, pidsRefused: 300 }))).toThrow(
      expect.objectContaining({ code: 'pids_exhausted' }),
    );
    expect(statusOfThrown(() => r.watch.assertRoom(runc, reading({ pidsCurrent: 100, pidsRefused: 300 })))).toBe(409);

    // A dip below the limit is not the end of a bomb: 10 s without a refusal is.
    r.advance(5000);
    r.watch.observe(runc, reading({ pidsCurrent: 100, pidsRefused: 300 }));
    expect(r.watch.isExhausted(runc)).toBe(true);
    r.advance(5000);
    r.watch.observe(runc, reading({ pidsCurrent: 100, pidsRefused: 300 }));
    expect(r.watch.isExhausted(runc)).toBe(false);
    expect(() => r.watch.assertRoom(runc, reading({ pidsCurrent: 100 }))).not.toThrow();

    r.watch.observe(runc, reading({ pidsCurrent: 256, pidsRefused: 301 }));
    expect(r.events).toHaveLength(2);
  });

  it('refuses a command that has no room to start even before a refusal is counted', () => {
    const r = rig();
    expect(() => r.watch.assertRoom(runc, reading({ pidsCurrent: 250 }))).toThrow(/burrow kill bomb/);
    expect(() => r.watch.assertRoom(runc, reading({ pidsCurrent: 200 }))).not.toThrow();
  });

  it('forgets an episode when the processes were killed, or the sandbox booted again', () => {
    const r = rig();
    r.watch.observe(runc, reading({}));
    r.watch.observe(runc, reading({ pidsCurrent: 256, pidsRefused: 1 }));
    r.watch.relieve('a');
    expect(r.watch.isExhausted(runc)).toBe(false);

    r.watch.observe(runc, reading({ pidsCurrent: 256, pidsRefused: 2 }));
    r.watch.observe(runc, reading({ pidsCurrent: 256, pidsRefused: 3 }));
    expect(r.watch.isExhausted(runc)).toBe(true);
    // A new boot has room from its start, before the meter's first reading of it, which is a
    // baseline: its cgroup counts from zero.
    const booted = { ...runc, containerId: 'a-2' };
    expect(r.watch.isExhausted(booted)).toBe(false);
    expect(() => r.watch.assertRoom(booted, reading({ pidsCurrent: 1 }))).not.toThrow();
    r.watch.observe(booted, reading({ pidsRefused: 0 }));
    expect(r.watch.isExhausted(booted)).toBe(false);
  });

  it('asks a gVisor runtime for its tasks once its host tasks climb, and judges by those', async () => {
    const gvisor = sandboxRecord({ id: 'g', name: 'guest', runtime: 'gvisor', pidsLimit: 256, containerId: 'g-1' });
    const quiet = rig(300);
    quiet.watch.observe(gvisor, reading({ pidsCurrent: 100, pidsMax: 4096 }));
    await new Promise((r) => setImmediate(r));
    expect(quiet.watch.isExhausted(gvisor)).toBe(false);

    const r = rig(257);
    r.watch.observe(gvisor, reading({ pidsCurrent: 3000, pidsMax: 4096 }));
    await new Promise((r) => setImmediate(r));
    expect(r.watch.isExhausted(gvisor)).toBe(true);
    expect(r.events).toEqual([expect.stringMatching(/^pids_exhausted: reached its limit of 256 processes and threads per user/)]);
  });
});

/** The HTTP status the API edge answers the error `fn` throws with. */
function statusOfThrown(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    return httpStatusOf(e as DomainError);
  }
  return undefined;
}
