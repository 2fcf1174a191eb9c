// Room for checkpoints against a real `burrow serve` and a real runc sandbox on btrfs: a
// sandbox that writes, checkpoints and deletes in a loop (from inside, through `burrow-env`)
// loses its oldest automatic checkpoint first and is then refused with `quota_exceeded` (as a
// 409, or as the error event of an NDJSON stream already under way), so the pool holds at most
// its budget; and a pool below its reserve refuses every checkpoint, restore,
// fork and create with `pool_full`, making nothing.
import { execFile, execFileSync } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BurrowClient } from '@burrow/sdk';
import { hostState } from '../support/host-state.js';
import { CLI, sandboxName } from '../support/instance.js';
import { useInstance } from '../support/use-instance.js';

const GIB = 2 ** 30;
/** Checkpoints may hold 3 x storage_gb: 3 GiB for the 1 GB sandbox here. */
const BUDGET_PER_GB = 3;

const burrow = useInstance({ BURROW_CHECKPOINT_BUDGET: String(BUDGET_PER_GB) });
let client: BurrowClient;
const name = sandboxName('budget');
const forkName = sandboxName('budget-fork');

beforeAll(async () => {
  client = burrow.client();
  await client.createSandbox(name, { runtime: 'runc', config: { storage_gb: 1 } });
});

const inside = (line: string) => client.sandbox(name).exec('sh', ['-c', line]);

const call = (method: string, path: string, body?: unknown) => burrow.call(method, path, body);

/** Bytes in use on the pool, once what was written and deleted is committed. */
function poolUsed(): number {
  execFileSync('btrfs', ['filesystem', 'sync', burrow.config.pool.mountpoint]);
  const s = statfsSync(burrow.config.pool.mountpoint);
  return (s.blocks - s.bfree) * s.bsize;
}

const ids = async () => (await client.sandbox(name).listCheckpoints({ includeAuto: true })).map((c) => c.id);

describe('the checkpoint budget', () => {
  it('prunes the oldest automatic checkpoint, then refuses with quota_exceeded, from inside and through the API', async () => {
    const before = poolUsed();
    // 750 MiB the restore keeps aside as auto-1, held by that checkpoint alone.
    expect((await inside('head -c 750M /dev/zero > ~/f && sync')).exitCode).toBe(0);
    await client.sandbox(name).restoreCheckpoint('v0');
    expect(await ids()).toEqual(['auto-1', 'v0']);

    // Write, checkpoint from inside, delete: each round leaves 750 MiB that only its checkpoint holds.
    const rounds: Array<{ exitCode: number; stdout: string; stderr: string }> = [];
    for (let i = 0; i < 5; i++) {
      expect((await inside('head -c 750M /dev/zero > ~/f && sync')).exitCode).toBe(0);
      rounds.push(await inside('burrow-env checkpoint create'));
      expect((await inside('rm ~/f && sync')).exitCode).toBe(0);
    }
    // v1 and v2 fit; v3 fits once auto-1 is gone; then 2.2 GiB are held, and one more could
    // come to hold the whole 1 GiB disk: past the 3 GiB budget.
    expect(rounds.map((r) => r.stdout.trim())).toEqual(['v1', 'v2', 'v3', '', '']);
    for (const refused of rounds.slice(3)) {
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toMatch(/budget of 3\.00 GiB.*\(quota_exceeded\)/);
    }
    // The user's own checkpoints are all kept.
    expect(await ids()).toEqual(['v3', 'v2', 'v1', 'v0']);

    const created = await call('POST', `/v1/sprites/${name}/checkpoint`, {});
    expect(created).toEqual({
      status: 409,
      body: {
        error: 'quota_exceeded',
        message: expect.stringContaining('BURROW_CHECKPOINT_BUDGET'),
        checkpoint_bytes: expect.any(Number),
        budget_bytes: BUDGET_PER_GB * GIB,
      },
    });
    expect((created.body as { checkpoint_bytes: number }).checkpoint_bytes).toBeGreaterThan((BUDGET_PER_GB - 1) * GIB);
    const cli = await promisify(execFile)(process.execPath, [CLI, 'checkpoint', 'create', name], { env: { ...process.env, ...burrow.cliEnv() } }).then(
      () => ({ failed: false, stderr: '' }),
      (e: { stderr: string }) => ({ failed: true, stderr: e.stderr }),
    );
    expect(cli).toEqual({ failed: true, stderr: expect.stringContaining('BURROW_CHECKPOINT_BUDGET') });
    // A restore keeps the disk as an automatic checkpoint: the same budget applies.
    const restored = await call('POST', `/v1/sprites/${name}/checkpoints/v1/restore`);
    expect(restored).toMatchObject({ status: 409, body: { error: 'quota_exceeded' } });
    expect(await ids()).toEqual(['v3', 'v2', 'v1', 'v0']);

    // What the sandbox holds on the host stays within its budget (its disk is empty again).
    expect(poolUsed() - before).toBeLessThan(BUDGET_PER_GB * GIB);

    // Deleting a checkpoint makes room again.
    await client.sandbox(name).deleteCheckpoint('v1');
    expect((await inside('burrow-env checkpoint create')).stdout.trim()).toBe('v4');
  });
});

describe('the checkpoint budget in an NDJSON stream', () => {
  it('reports quota_exceeded as the stream\'s error event, with its code, when pruning does not make room', async () => {
    // auto-2 keeps a disk that holds nothing v4 does not: deleting it frees nothing.
    await client.sandbox(name).restoreCheckpoint('v4');
    expect((await inside('head -c 750M /dev/zero > ~/f && sync')).exitCode).toBe(0);
    expect((await inside('burrow-env checkpoint create')).stdout.trim()).toBe('v5');
    expect((await inside('rm ~/f && sync')).exitCode).toBe(0);
    expect(await ids()).toEqual(['v5', 'auto-2', 'v4', 'v3', 'v2', 'v0']);

    // With an automatic checkpoint to prune, the refusal can only come once the stream runs.
    const r = await call('POST', `/v1/sprites/${name}/checkpoint`, {});
    expect(r.status).toBe(200);
    const events = String(r.body).trim().split('\n').map((l) => JSON.parse(l) as { type: string; data?: string; error?: string; code?: string });
    expect(events.some((e) => e.type === 'info' && /deleted automatic checkpoint auto-2/.test(e.data ?? ''))).toBe(true);
    expect(events.at(-1)).toEqual({ type: 'error', error: expect.stringContaining('BURROW_CHECKPOINT_BUDGET'), code: 'quota_exceeded', time: expect.any(String) });
    // The pruned automatic checkpoint stays deleted; nothing else changed.
    expect(await ids()).toEqual(['v5', 'v4', 'v3', 'v2', 'v0']);
  });
});

describe('the pool reserve', () => {
  it('refuses checkpoint, restore, fork and create with 507 pool_full while the pool is below it, making nothing', async () => {
    await burrow.stop();
    await burrow.start({ BURROW_POOL_RESERVE: '100T' });
    client = burrow.client();
    const checkpointsBefore = await ids();
    const snapshotsBefore = hostState(burrow.config).snapshots;
    const refusal = {
      error: 'pool_full',
      message: expect.stringMatching(/storage pool has [\d.]+ GiB free, under its reserve of 102400\.00 GiB/),
      free_bytes: expect.any(Number),
      reserve_bytes: 100 * 2 ** 40,
    };

    expect(await call('POST', `/v1/sprites/${name}/checkpoint`, {})).toEqual({ status: 507, body: refusal });
    expect(await call('POST', `/v1/sprites/${name}/checkpoints/v2/restore`)).toEqual({ status: 507, body: refusal });
    expect(await call('POST', `/v1/sprites/${name}/checkpoints/v2/fork`, { name: forkName })).toEqual({ status: 507, body: refusal });
    expect(await call('POST', '/v1/sprites', { name: sandboxName('budget-new') })).toEqual({ status: 507, body: refusal });
    const fromInside = await inside('burrow-env checkpoint create');
    expect(fromInside.exitCode).toBe(1);
    expect(fromInside.stderr).toContain('(pool_full)');

    expect(await ids()).toEqual(checkpointsBefore);
    expect((await client.listSandboxes()).map((s) => s.name)).toEqual([name]);
    expect(hostState(burrow.config).snapshots).toEqual(snapshotsBefore);
    await burrow.stop();
    await burrow.start();
    client = burrow.client();
  });
});
