// The room checks before a checkpoint, create or fork, against fake pool and quota readings: the
// pool's reserve (5%, at least 1 GiB, unless configured), and the checkpoint budget, which
// leaves room for one more checkpoint to come to hold the whole disk.
import { describe, expect, it } from 'vitest';
import { httpStatusOf } from '../src/api/errors.js';
import type { DomainError } from '../src/core/errors.js';
import { StorageRoom, type StorageRoomDeps } from '../src/core/storage-room.js';
import type { SandboxRecord } from '../src/db/sandboxes.js';
import type { SandboxSpace } from '../src/storage/sandbox-space.js';

const GIB = 2 ** 30;
const box = { id: 'a', name: 'dev', storageGb: 1 } as SandboxRecord;

function room(overrides: Partial<StorageRoomDeps> = {}) {
  return new StorageRoom({
    poolSpace: async () => ({ sizeBytes: 100 * GIB, freeBytes: 50 * GIB }),
    reserveBytes: null,
    spaceOf: async () => ({ liveBytes: GIB, checkpointBytes: 0 }),
    settle: async () => {},
    budgetPerStorageGb: 4,
    ...overrides,
  });
}

describe('the pool reserve', () => {
  it('is 5% of the pool, at least 1 GiB, unless configured', async () => {
    const at = (sizeBytes: number, freeBytes: number, reserveBytes: number | null = null) =>
      room({ poolSpace: async () => ({ sizeBytes, freeBytes }), reserveBytes }).assertPoolRoom('a checkpoint of dev');
    await expect(at(100 * GIB, 5 * GIB)).resolves.toBeUndefined();
    await expect(at(100 * GIB, 4.9 * GIB)).rejects.toMatchObject({ code: 'pool_full' });
    expect(await at(100 * GIB, 4.9 * GIB).catch((e: DomainError) => httpStatusOf(e))).toBe(507);
    await expect(at(10 * GIB, 1 * GIB)).resolves.toBeUndefined();
    await expect(at(10 * GIB, 0.9 * GIB)).rejects.toThrow(/a checkpoint of dev was refused: the storage pool has 0\.90 GiB free, under its reserve of 1\.00 GiB/);
    await expect(at(100 * GIB, 50 * GIB, 60 * GIB)).rejects.toMatchObject({ code: 'pool_full' });
  });
});

describe('the checkpoint budget', () => {
  it('fits while what the checkpoints hold plus the disk limit stays within the budget', async () => {
    const held = (checkpointBytes: number) => room({ spaceOf: async () => ({ liveBytes: 0, checkpointBytes }) }).checkpointRoom(box);
    expect(await held(3 * GIB)).toEqual({ fits: true, checkpointBytes: 3 * GIB, diskBytes: GIB, budgetBytes: 4 * GIB });
    expect((await held(3 * GIB + 1)).fits).toBe(false);
  });

  it('waits for deleted checkpoints to be cleaned up before saying no', async () => {
    const readings: SandboxSpace[] = [
      { liveBytes: 0, checkpointBytes: 3.5 * GIB },
      { liveBytes: 0, checkpointBytes: 2 * GIB },
    ];
    let settled = 0;
    const r = room({ spaceOf: async () => readings[settled]!, settle: async () => void settled++ });
    expect(await r.checkpointRoom(box)).toMatchObject({ fits: true, checkpointBytes: 2 * GIB });
    expect(settled).toBe(1);
  });

  it('always fits when quotas cannot be read', async () => {
    expect((await room({ spaceOf: async () => null }).checkpointRoom(box)).fits).toBe(true);
  });

  it('refuses with quota_exceeded, saying what is held and what to do', () => {
    const e = StorageRoom.budgetExceeded(box, { fits: false, checkpointBytes: 3.5 * GIB, diskBytes: GIB, budgetBytes: 4 * GIB }, 'a checkpoint of dev');
    expect(e).toMatchObject({ code: 'quota_exceeded', details: { checkpoint_bytes: 3.5 * GIB, budget_bytes: 4 * GIB } });
    expect(httpStatusOf(e)).toBe(409);
    expect(e.message).toMatch(/hold 3\.50 GiB.*budget of 4\.00 GiB.*burrow checkpoint list dev/);
  });
});
