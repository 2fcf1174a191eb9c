// Errors of burrow's own domain, in the protocol's vocabulary of error codes (which the clients
// read too), with a message that says what happened and what to do. Core knows nothing of HTTP:
// the API edge (api/errors.ts) gives each code its status.
import type { ErrorCode } from '@burrow/protocol';
import type { SandboxRecord } from '../db/sandboxes.js';

export class DomainError extends Error {
  /**
   * @param details extra top-level fields of the error body, e.g. `limit` and
   *   `retry_after_seconds` of a 429 (spec section 1)
   */
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, number | string> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class SandboxNotFound extends DomainError {
  constructor(readonly sandbox: string) {
    super('sandbox_not_found', `sandbox '${sandbox}' does not exist (see \`burrow list\`)`);
  }
}

export class SandboxExists extends DomainError {
  constructor(readonly sandbox: string) {
    super('sandbox_exists', `a sandbox named '${sandbox}' already exists`);
  }
}

/** The sandbox is being created or destroyed: nothing else may happen to it meanwhile. */
export class SandboxBusy extends DomainError {
  constructor(record: Pick<SandboxRecord, 'name' | 'status'>, opts: { tryAgain: boolean } = { tryAgain: true }) {
    super('sandbox_busy', `sandbox '${record.name}' is ${record.status}${opts.tryAgain ? '; try again when it is done' : ''}`);
  }
}

/** The container runtime failed to do what was asked (boot, snapshot a live disk). */
export class RuntimeFailed extends DomainError {
  constructor(message: string) {
    super('runtime_failed', message);
  }
}

/** The request is well formed, but the state it would act on does not allow it. */
export class Conflict extends DomainError {
  constructor(message: string) {
    super('conflict', message);
  }
}

/**
 * Why a `vm` sandbox has no OCI archive: its disk is a filesystem image written by its own
 * kernel, which the host never mounts or reads (see SandboxDisks.machineDisk).
 */
export const VM_ARCHIVES =
  'vm sandboxes are not exported to or imported from OCI archives: their disk is a filesystem image the host never reads; use a gvisor or runc sandbox for that';
