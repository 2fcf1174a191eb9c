// kill -9 of `burrow serve` at every step of checkpoint create, restore, delete and fork, then a
// restart: the sandbox is exactly on its old state or exactly on its new one, every listed
// checkpoint exists on disk, every snapshot on disk is listed, and nothing stays frozen.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '@burrow/sdk';
import { BurrowInstance, sandboxName } from '../support/instance.js';
import { useInstance } from '../support/use-instance.js';
import { checkpointRows, hostState } from '../support/host-state.js';

const CREATE_STEPS = [
  'checkpoint:create:recorded',
  'checkpoint:create:synced',
  'checkpoint:create:paused',
  'checkpoint:create:snapshot',
  'checkpoint:create:done',
];
/** From moved-aside on, the old disk is kept aside and the restore is finished on restart. */
const RESTORE_STEPS: Array<[string, 'old' | 'new']> = [
  ['checkpoint:restore:recorded', 'old'],
  ['checkpoint:restore:stopped', 'old'],
  ['checkpoint:restore:moved-aside', 'new'],
  ['checkpoint:restore:readonly', 'new'],
  ['checkpoint:restore:swapped', 'new'],
  ['checkpoint:restore:recorded-done', 'new'],
];
const DELETE_STEPS = ['checkpoint:delete:marked', 'checkpoint:delete:removed'];
const FORK_STEPS = ['checkpoint:fork:snapshot', 'checkpoint:v0', 'create:started'];
const EMPTY = { mounts: [], subvolumes: [], snapshots: [], netns: [], containers: [], rows: [], cgroups: [], links: [], rules: [], addresses: [] };

const burrow = useInstance();
const name = sandboxName('cpcrash');
let boxId = '';

beforeAll(async () => {
  const box = await burrow.client().createSandbox(name);
  boxId = box.info!.id;
});

const box = (): Sandbox => burrow.client().sandbox(name);

async function sh(script: string): Promise<string> {
  const r = await box().exec('sh', ['-c', script]);
  if (r.exitCode !== 0) throw new Error(`'${script}' exited ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

async function ids(): Promise<string[]> {
  return (await box().listCheckpoints({ includeAuto: true })).map((c) => c.id);
}

/** Restarts the daemon with a crash hook armed, makes `request` hit it, and restarts clean. */
async function crashDuring(step: string, request: () => Promise<unknown>): Promise<void> {
  await burrow.stop();
  await burrow.start({ BURROW_CRASH_AT: step });
  await expect(request()).rejects.toThrow();
  await burrow.exited();
  await burrow.start();
}

/** Every checkpoint row is settled and has its snapshot; every snapshot has its row. */
function expectConsistent(): void {
  const { rows, restores } = checkpointRows(burrow.config);
  expect(restores).toBe(0);
  expect(rows.every((r) => r.endsWith(' ready'))).toBe(true);
  expect(rows.map((r) => r.split(' ')[0]).sort()).toEqual([...hostState(burrow.config).snapshots].sort());
}

describe('a crash in the middle of checkpoint create', () => {
  it.each(CREATE_STEPS)('at %s leaves the old list or the new one, and the sandbox not frozen', async (step) => {
    const before = await ids();
    const next = `v${before.filter((id) => id.startsWith('v')).length}`;
    await sh(`echo ${step} > ~/marker`);
    await crashDuring(step, () => box().createCheckpoint(step));
    const after = await ids();
    if (step === 'checkpoint:create:done') {
      expect(after).toEqual([next, ...before]);
      expect(await sh(`cat /.burrow/checkpoints/${next}/home/user/marker`)).toBe(`${step}\n`);
    } else {
      expect(after).toEqual(before);
    }
    // Running, not paused: exec answers (a frozen sandbox would hang here).
    expect(await sh('echo alive')).toBe('alive\n');
    expectConsistent();
    // The id of a rolled-back checkpoint is given back: no gaps.
    const again = await box().createCheckpoint();
    expect(again.id).toBe(step === 'checkpoint:create:done' ? `v${Number(next.slice(1)) + 1}` : next);
  });
});

describe('a crash in the middle of restore', () => {
  it.each(RESTORE_STEPS)('at %s leaves the sandbox exactly on the %s state', async (step, expected) => {
    await sh('rm -f ~/only-after; echo at-checkpoint > ~/state');
    const target = await box().createCheckpoint('restore target');
    await sh('echo after-checkpoint > ~/state; touch ~/only-after');
    const before = await ids();
    await crashDuring(step, () => box().restoreCheckpoint(target.id));
    const after = await ids();
    const out = await sh('cat ~/state; test -e ~/only-after && echo only-after || true');
    if (expected === 'new') {
      expect(out).toBe('at-checkpoint\n');
      expect(after).toHaveLength(before.length + 1);
      expect(after[0]).toMatch(/^auto-\d+$/);
      // The state before the restore is kept, read-only, and can be restored.
      await box().restoreCheckpoint(after[0]!);
      expect(await sh('cat ~/state')).toBe('after-checkpoint\n');
    } else {
      expect(out).toBe('after-checkpoint\nonly-after\n');
      expect(after).toEqual(before);
    }
    expect((await burrow.client().getSandbox(name)).info?.status).toBe('running');
    expectConsistent();
  });
});

describe('a crash in the middle of checkpoint delete', () => {
  it.each(DELETE_STEPS)('at %s is finished on restart', async (step) => {
    const doomed = await box().createCheckpoint('to delete');
    await box().createCheckpoint('so that the doomed one is not current');
    await crashDuring(step, () => box().deleteCheckpoint(doomed.id));
    expect(await ids()).not.toContain(doomed.id);
    expect(hostState(burrow.config).snapshots).not.toContain(`${boxId}/${doomed.id}`);
    expectConsistent();
  });
});

describe('a crash in the middle of fork', () => {
  it.each(FORK_STEPS)('at %s is rolled back on restart, and the name can be used again', async (step) => {
    const forkName = sandboxName(`cpf-${step.replace(/:/g, '-')}`);
    const source = (await box().listCheckpoints())[0]!;
    await crashDuring(step, () => box().fork(source.id, forkName));
    await expect(burrow.client().getSandbox(forkName)).rejects.toMatchObject({ status: 404 });
    const state = hostState(burrow.config);
    expect(state.rows).toEqual([name]);
    expect(state.subvolumes).toEqual([boxId]);
    expect(state.snapshots.every((s) => s.startsWith(`${boxId}/`))).toBe(true);
    expectConsistent();
    const fork = await box().fork(source.id, forkName);
    expect((await fork.exec('echo', ['forked'])).stdout).toBe('forked\n');
    await fork.delete();
  });
});

describe('after all the crashes', () => {
  it('destroying the sandbox leaves nothing behind', async () => {
    await burrow.client().deleteSandbox(name);
    expect(hostState(burrow.config)).toEqual(EMPTY);
  });
});

describe('purging an instance whose daemon died mid-snapshot', () => {
  it('removes the sandbox it left frozen, and everything else', async () => {
    const other = await BurrowInstance.create();
    try {
      await other.start({ BURROW_CRASH_AT: 'checkpoint:create:paused' });
      const frozen = await other.client().createSandbox(sandboxName('frozen'));
      await expect(frozen.createCheckpoint()).rejects.toThrow();
      await other.exited();
      await other.destroy();
      expect(hostState(other.config)).toEqual(EMPTY);
    } finally {
      await other.destroy();
    }
  });
});
