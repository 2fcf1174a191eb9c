// The idle timer's decisions against a fake manager: who goes warm, who goes cold, and what
// keeps a sandbox awake.
import { describe, expect, it } from 'vitest';
import { Activity } from '../src/core/activity.js';
import { IdleTimer, sleepTimeouts } from '../src/core/idle.js';
import type { SandboxManager, SleepDepth } from '../src/core/sandbox-manager.js';
import { inNeedsOrder } from '../src/core/services.js';
import type { SandboxRecord } from '../src/db/sandboxes.js';

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

function record(name: string, patch: Partial<SandboxRecord> = {}): SandboxRecord {
  return {
    id: `${name}-id`, name, status: 'running', runtime: 'gvisor', image: 'dev-x', imageName: 'dev', cpus: 1, ramMb: 512,
    storageGb: 10, environment: {}, labels: [], urlSettings: { auth: 'sprite' }, failureReason: null, containerId: `${name}-c`,
    createdAt: ago(600_000), updatedAt: ago(600_000), lastRunningAt: ago(600_000), lastWarmingAt: null,
    warmAfterMs: null, coldAfterMs: null, idBase: null, ...patch,
  };
}

function fakeManager(records: SandboxRecord[]) {
  const slept: Array<[string, SleepDepth]> = [];
  const manager = {
    list: () => records,
    checkAlive: async () => true,
    sleep: async (name: string, depth: SleepDepth, stillIdle: () => boolean) => {
      if (stillIdle()) slept.push([name, depth]);
      return records.find((r) => r.name === name)!;
    },
  } as unknown as SandboxManager;
  return { manager, slept };
}

describe('the activity tracker', () => {
  it('counts holds, and a release twice is released once', () => {
    const activity = new Activity();
    const a = activity.hold('x');
    const b = activity.hold('x');
    a();
    a();
    expect(activity.busy('x')).toBe(true);
    b();
    expect(activity.busy('x')).toBe(false);
    expect(activity.lastUsed('x')).toBeLessThanOrEqual(Date.now());
  });
});

describe('the idle timer', () => {
  const defaults = { warmAfterMs: 30_000, coldAfterMs: 600_000 };

  it("uses a sandbox's own timeouts over the defaults, 0 meaning never", () => {
    expect(sleepTimeouts(record('a'), defaults)).toEqual(defaults);
    expect(sleepTimeouts(record('a', { warmAfterMs: 0, coldAfterMs: 5_000 }), defaults)).toEqual({ warmAfterMs: null, coldAfterMs: 5_000 });
  });

  it('freezes idle running sandboxes and stops long-warm ones, but not held or recently used ones', async () => {
    const records = [
      record('idle'),
      record('held'),
      record('tasked'),
      record('never', { warmAfterMs: 0 }),
      record('long-warm', { status: 'warm', lastWarmingAt: ago(700_000) }),
      record('new-warm', { status: 'warm', lastWarmingAt: ago(1_000) }),
    ];
    const { manager, slept } = fakeManager(records);
    const activity = new Activity();
    activity.hold('held');
    const timer = new IdleTimer({ manager, activity, defaults, holds: [(r) => r.name === 'tasked'], log: () => {} });
    // The daemon's start counts as a use: pretend it started long ago.
    (timer as unknown as { startedAt: number }).startedAt = 0;
    await timer.tick();
    expect(slept).toEqual([
      ['idle', 'warm'],
      ['long-warm', 'cold'],
    ]);
  });

  it('never puts a sandbox to sleep right after the daemon started', async () => {
    const { manager, slept } = fakeManager([record('idle')]);
    await new IdleTimer({ manager, activity: new Activity(), defaults, holds: [], log: () => {} }).tick();
    expect(slept).toEqual([]);
  });
});

describe('services in needs order', () => {
  it('puts what a service needs before it, whatever the listing order', () => {
    const order = inNeedsOrder([
      { name: 'web', needs: ['api'] },
      { name: 'api', needs: ['db', 'cache'] },
      { name: 'cache', needs: [] },
      { name: 'db', needs: [] },
    ]).map((s) => s.name);
    expect(order).toEqual(['db', 'cache', 'api', 'web']);
  });
});
