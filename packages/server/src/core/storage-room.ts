// Room for new disk state, checked before it is made: the pool keeps a reserve free (a full
// btrfs cannot even delete without room for its metadata, so every sandbox would be stuck), and
// each sandbox's checkpoints stay within a budget proportional to its `storage_gb`, which a
// write-checkpoint-delete loop inside the sandbox would otherwise grow without bound.
import type { SandboxRecord } from '../db/sandboxes.js';
import type { SandboxSpace } from '../storage/sandbox-space.js';
import { DomainError } from './errors.js';

const GIB = 2 ** 30;
/** The pool's default reserve: this share of its size, and at least MIN_RESERVE_BYTES. */
const RESERVE_SHARE = 0.05;
const MIN_RESERVE_BYTES = GIB;

export interface StorageRoomDeps {
  poolSpace: () => Promise<{ sizeBytes: number; freeBytes: number }>;
  /** Free bytes below which nothing new is made; null: 5% of the pool, at least 1 GiB. */
  reserveBytes: number | null;
  spaceOf: (sandboxId: string) => Promise<SandboxSpace | null>;
  /** Waits until deleted snapshots have given their space back. */
  settle: () => Promise<void>;
  /** The checkpoint budget as a multiple of the sandbox's `storage_gb`. */
  budgetPerStorageGb: number;
}

/** Where a sandbox stands against its checkpoint budget. */
export interface CheckpointRoom {
  fits: boolean;
  /** What only its checkpoints hold. */
  checkpointBytes: number;
  /** Its disk's limit (`storage_gb`): what a new checkpoint may come to hold alone. */
  diskBytes: number;
  budgetBytes: number;
}

export class StorageRoom {
  constructor(private readonly deps: StorageRoomDeps) {}

  /** Refuses with `pool_full` when the pool's free space is below its reserve. */
  async assertPoolRoom(what: string): Promise<void> {
    const { sizeBytes, freeBytes } = await this.deps.poolSpace();
    const reserve = this.deps.reserveBytes ?? Math.max(MIN_RESERVE_BYTES, sizeBytes * RESERVE_SHARE);
    if (freeBytes >= reserve) return;
    throw new DomainError(
      'pool_full',
      `${what} was refused: the storage pool has ${gib(freeBytes)} free, under its reserve of ${gib(reserve)} ` +
        '(BURROW_POOL_RESERVE); delete checkpoints or sandboxes, or grow the pool',
      { free_bytes: freeBytes, reserve_bytes: reserve },
    );
  }

  /**
   * Whether one more checkpoint fits the sandbox's budget. A new checkpoint holds nothing alone
   * when it is taken, but once the disk is rewritten it holds all the disk held, up to the
   * disk's limit: so it fits when what the checkpoints hold plus that limit stays within the
   * budget, and the checkpoints never come to hold more than the budget. (The limit rather than
   * what the disk holds now: gVisor keeps written data in its own memory until a sync, where no
   * measurement sees it.) Always fits when quotas cannot be read. Checkpoints deleted a moment
   * ago still count until btrfs has cleaned them up, so before saying no it waits for that.
   */
  async checkpointRoom(record: SandboxRecord): Promise<CheckpointRoom> {
    const room = await this.measure(record);
    if (room.fits) return room;
    await this.deps.settle();
    return this.measure(record);
  }

  private async measure(record: SandboxRecord): Promise<CheckpointRoom> {
    const diskBytes = record.storageGb * GIB;
    const budgetBytes = Math.floor(diskBytes * this.deps.budgetPerStorageGb);
    const space = await this.deps.spaceOf(record.id);
    const checkpointBytes = space?.checkpointBytes ?? 0;
    return { fits: !space || checkpointBytes + diskBytes <= budgetBytes, checkpointBytes, diskBytes, budgetBytes };
  }

  /** The `quota_exceeded` refusal for a sandbox whose checkpoints are at their budget. */
  static budgetExceeded(record: SandboxRecord, room: CheckpointRoom, what: string): DomainError {
    return new DomainError(
      'quota_exceeded',
      `${what} was refused: the checkpoints of sandbox '${record.name}' hold ${gib(room.checkpointBytes)}, and with one more ` +
        `(which may come to hold its whole ${gib(room.diskBytes)} disk) they could pass their budget of ${gib(room.budgetBytes)} ` +
        `(BURROW_CHECKPOINT_BUDGET x storage_gb); delete checkpoints (\`burrow checkpoint list ${record.name}\`) and try again`,
      { checkpoint_bytes: room.checkpointBytes, budget_bytes: room.budgetBytes },
    );
  }
}

function gib(bytes: number): string {
  return `${(bytes / GIB).toFixed(2)} GiB`;
}
