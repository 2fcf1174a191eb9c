// kill -9 of `burrow serve` at every step of create and destroy, then a restart: the reconciler
// leaves nothing half-made. A second instance on the same machine is never touched.
import { beforeAll, describe, expect, it } from 'vitest';
import { sandboxName } from '../support/instance.js';
import { useInstance } from '../support/use-instance.js';
import { hostState } from '../support/host-state.js';

const CREATE_STEPS = ['create:recorded', 'create:subvolume', 'net:allocated', 'net:veth', 'create:netns', 'create:mounted', 'create:bundle', 'create:started'];
const EMPTY = { mounts: [], subvolumes: [], snapshots: [], netns: [], containers: [], rows: [], cgroups: [], links: [], rules: [], addresses: [] };

// The neighbour comes first: it starts before, and is destroyed after, the instance under test.
const neighbour = useInstance();
const burrow = useInstance();
const neighbourBox = sandboxName('neighbour');

beforeAll(async () => {
  await neighbour.client().createSandbox(neighbourBox);
  await neighbour.client().sandbox(neighbourBox).exec('sh', ['-c', 'echo mine > ~/f']);
});

/** Restarts the daemon with a crash hook armed, makes `request` hit it, and restarts clean. */
async function crashDuring(step: string, request: () => Promise<unknown>) {
  await burrow.stop();
  await burrow.start({ BURROW_CRASH_AT: step });
  await expect(request()).rejects.toThrow();
  await burrow.exited();
  await burrow.start();
}

describe('a crash in the middle of create', () => {
  it.each(CREATE_STEPS)('at %s is rolled back on restart, and the name can be used again', async (step) => {
    const name = sandboxName(step.replace(':', '-'));
    await crashDuring(step, () => burrow.client().createSandbox(name));
    expect(hostState(burrow.config)).toEqual(EMPTY);
    await expect(burrow.client().getSandbox(name)).rejects.toMatchObject({ status: 404 });

    const again = await burrow.client().createSandbox(name);
    expect((await again.exec('echo', ['ok'])).stdout).toBe('ok\n');
    await burrow.client().deleteSandbox(name);
  });
});

describe('a crash in the middle of destroy', () => {
  it('is finished on restart', async () => {
    const name = sandboxName('destroy');
    await burrow.client().createSandbox(name);
    await crashDuring('destroy:marked', () => burrow.client().deleteSandbox(name));
    expect(hostState(burrow.config)).toEqual(EMPTY);
  });
});

describe('side by side', () => {
  it("left the other instance's sandbox running with its files", async () => {
    const state = hostState(neighbour.config);
    expect(state.rows).toEqual([neighbourBox]);
    expect(state.containers).toHaveLength(1);
    const r = await neighbour.client().sandbox(neighbourBox).exec('cat', ['/home/user/f']);
    expect(r.stdout).toBe('mine\n');
  });
});
