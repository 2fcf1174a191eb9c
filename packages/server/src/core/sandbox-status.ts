// The lifecycle of a sandbox as its recorded status: which status may follow which. Every status
// change goes through `SandboxStatuses.move`, which checks it against this one table, so a new
// path that would record a status the rest of burrow does not expect is caught where it is made.
import type { SandboxRecord, SandboxStatus, SandboxStore, StatusWriter } from '../db/sandboxes.js';

/**
 * For each status, the statuses it may change to.
 * - `creating`: recorded before the first boot; a create that fails deletes the row instead.
 * - `running`: its container runs. To itself when it boots again on its disk (restart, restore).
 * - `warm`: its container is frozen, memory kept.
 * - `cold`: no container; the disk is kept and the next use boots it.
 * - `failed`: its container died or would not start (the reason is recorded); the next use boots
 *   it, and a boot that fails again leaves it failed with the new reason.
 * - `destroying`: recorded before the teardown; a destroy that failed halfway is tried again, and
 *   the row goes when the teardown is done.
 */
export const TRANSITIONS: { readonly [from in SandboxStatus]: readonly SandboxStatus[] } = {
  creating: ['running'],
  running: ['running', 'warm', 'cold', 'failed', 'destroying'],
  warm: ['running', 'cold', 'failed', 'destroying'],
  cold: ['running', 'failed', 'destroying'],
  failed: ['running', 'failed', 'destroying'],
  destroying: ['destroying'],
};

export function canMove(from: SandboxStatus, to: SandboxStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** A status change the table does not allow: a bug in burrow, never the user's doing. */
export class IllegalTransition extends Error {
  constructor(
    readonly sandbox: Pick<SandboxRecord, 'id' | 'name'>,
    readonly from: SandboxStatus,
    readonly to: SandboxStatus,
  ) {
    super(`sandbox '${sandbox.name}' may not go from ${from} to ${to} (allowed from ${from}: ${TRANSITIONS[from].join(', ') || 'nothing'})`);
    this.name = 'IllegalTransition';
  }
}

/** What happens to an illegal transition: thrown (tests), or reported and recorded anyway. */
export type OnIllegalTransition = (error: IllegalTransition) => void;

export const throwIllegal: OnIllegalTransition = (error) => {
  throw error;
};

/** The one writer of sandbox statuses: it holds the store's status writer, which is handed out once. */
export class SandboxStatuses {
  private readonly write: StatusWriter;

  constructor(
    private readonly store: Pick<SandboxStore, 'byId' | 'takeStatusWriter'>,
    /**
     * A running daemon reports and records the status anyway: by the time a status is written,
     * the host already is in that state (a container booted or gone), and a record that
     * disagrees with the host is worse than an unexpected step. Tests throw.
     */
    private readonly onIllegal: OnIllegalTransition = throwIllegal,
  ) {
    this.write = store.takeStatusWriter();
  }

  /** Records that the sandbox `id` is now `to`, checked against the table. A row gone meanwhile is left gone. */
  move(id: string, to: SandboxStatus, extra: { failureReason?: string | null } = {}): void {
    const current = this.store.byId(id);
    if (!current) return;
    if (!canMove(current.status, to)) this.onIllegal(new IllegalTransition(current, current.status, to));
    this.write(id, to, extra);
  }
}
