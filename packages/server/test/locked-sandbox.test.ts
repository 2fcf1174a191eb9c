// The lock-scoped handle: what changes a sandbox's container and status is reachable only while
// its lock is held.
import { describe, expect, it } from 'vitest';
import { SandboxNotFound } from '../src/core/errors.js';
import type { LockedSandbox } from '../src/core/locked-sandbox.js';
import { SandboxManager, type ManagerDeps } from '../src/core/sandbox-manager.js';
import { IllegalTransition } from '../src/core/sandbox-status.js';
import { openDatabase } from '../src/db/database.js';
import { SandboxStore } from '../src/db/sandboxes.js';
import { sandboxRecord } from './sandbox-record.js';

function managerWith(store: SandboxStore): SandboxManager {
  // Nothing here boots: the handle's status and lock checks need the store alone.
  return new SandboxManager({ store, crashPoint: () => {}, events: { record: () => {} } } as unknown as ManagerDeps);
}

describe('withLock', () => {
  it("hands its callback the sandbox, which records status changes through the lifecycle table", async () => {
    const store = new SandboxStore(openDatabase(':memory:'));
    store.insert(sandboxRecord({ id: 'a1', name: 'box', status: 'running' }));
    const manager = managerWith(store);
    await manager.withLock('box', async (sandbox) => {
      expect(sandbox.record.id).toBe('a1');
      sandbox.move('warm');
      expect(() => sandbox.move('creating')).toThrow(IllegalTransition);
    });
    expect(store.byId('a1')?.status).toBe('warm');
  });

  it('makes a handle kept past the lock throw', async () => {
    const store = new SandboxStore(openDatabase(':memory:'));
    store.insert(sandboxRecord({ id: 'a1', name: 'box', status: 'running' }));
    const manager = managerWith(store);
    let kept: LockedSandbox | undefined;
    await manager.withLock('box', async (sandbox) => {
      kept = sandbox;
    });
    expect(() => kept!.record).toThrow("sandbox 'box' was used after its lock was released");
    expect(() => kept!.move('cold')).toThrow('after its lock was released');
    await expect(kept!.retire()).rejects.toThrow('after its lock was released');
    expect(store.byId('a1')?.status).toBe('running');
  });

  it('releases the handle when the callback throws, and passes the error on', async () => {
    const store = new SandboxStore(openDatabase(':memory:'));
    const manager = managerWith(store);
    let kept: LockedSandbox | undefined;
    await expect(
      manager.withLock('gone', async (sandbox) => {
        kept = sandbox;
        return sandbox.record;
      }),
    ).rejects.toThrow(SandboxNotFound);
    expect(() => kept!.find()).toThrow('after its lock was released');
  });

  it('runs the callbacks of one sandbox one after another', async () => {
    const store = new SandboxStore(openDatabase(':memory:'));
    const manager = managerWith(store);
    const steps: string[] = [];
    const slow = manager.withLock('box', async () => {
      steps.push('first in');
      await new Promise((r) => setTimeout(r, 20));
      steps.push('first out');
    });
    const next = manager.withLock('box', async () => void steps.push('second'));
    await Promise.all([slow, next]);
    expect(steps).toEqual(['first in', 'first out', 'second']);
  });
});
