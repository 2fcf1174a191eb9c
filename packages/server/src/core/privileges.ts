// Each sandbox's privileges policy, in the Sprites SDK's shape `{profile, devices,
// noNewPrivileges}`: what processes inside may gain. It applies from the sandbox's next boot
// (a restart, a restore, a cold wake): with `noNewPrivileges` or the `minimal` profile every
// process runs with no_new_privs and PID 1's socket is root's alone, so neither the real sudo
// nor the agent's makes anyone root. What burrow cannot give is refused and nothing is stored.
import { refusesNewPrivileges, type PrivilegesProfile } from '@burrow/protocol';
import type { PrivilegesRecord, PrivilegesStore } from '../db/privileges.js';
import type { SandboxStore } from '../db/sandboxes.js';
import { DomainError, SandboxNotFound } from './errors.js';
import type { EventRecorder } from './events.js';


/** Device nodes every sandbox has anyway: naming them is allowed and changes nothing. */
export const STANDARD_DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'ptmx'];

export const DEFAULT_PRIVILEGES: PrivilegesRecord = { profile: 'standard', devices: [], noNewPrivileges: false };

/** What a boot applies. */
export interface BootPrivileges {
  noNewPrivileges: boolean;
}

export interface PrivilegesChange {
  profile?: PrivilegesProfile;
  devices?: string[];
  noNewPrivileges?: boolean;
}

export interface PrivilegesDeps {
  store: PrivilegesStore;
  sandboxes: Pick<SandboxStore, 'byName'>;
  events: EventRecorder;
}

export class Privileges {
  constructor(private readonly deps: PrivilegesDeps) {}

  get(name: string): PrivilegesRecord {
    return this.deps.store.get(this.sandbox(name).id) ?? DEFAULT_PRIVILEGES;
  }

  /** Fields left out keep their value. Throws `invalid_policy` (and stores nothing) for what burrow cannot apply. */
  set(name: string, change: PrivilegesChange): PrivilegesRecord {
    const sandbox = this.sandbox(name);
    if (change.profile === 'privileged') {
      throw new DomainError('invalid_policy', "Invalid policy: profile 'privileged' is not available: burrow never gives a sandbox host privileges (use 'standard' or 'minimal')");
    }
    if (change.profile === 'minimal' && change.noNewPrivileges === false) {
      throw new DomainError('invalid_policy', "Invalid policy: profile 'minimal' always sets noNewPrivileges; send noNewPrivileges: true or leave it out");
    }
    const devices = change.devices?.map((d) => d.replace(/^\/dev\//, ''));
    const foreign = devices?.filter((d) => !STANDARD_DEVICES.includes(d)) ?? [];
    if (foreign.length > 0) {
      throw new DomainError(
        'invalid_policy',
        `Invalid policy: burrow cannot pass host devices into a sandbox (${foreign.map((d) => `'${d}'`).join(', ')}); ` +
          `every sandbox already has ${STANDARD_DEVICES.join(', ')}`,
      );
    }
    const current = this.deps.store.get(sandbox.id) ?? DEFAULT_PRIVILEGES;
    const next: PrivilegesRecord = {
      profile: change.profile === undefined ? current.profile : change.profile || DEFAULT_PRIVILEGES.profile,
      devices: devices ? [...new Set(devices)] : current.devices,
      noNewPrivileges: change.noNewPrivileges ?? (change.profile === 'minimal' ? true : current.noNewPrivileges),
    };
    this.deps.store.set(sandbox.id, next);
    this.recordChange(sandbox, next);
    return next;
  }

  /** Back to the defaults (sudo works again from the next boot). */
  reset(name: string): PrivilegesRecord {
    const sandbox = this.sandbox(name);
    this.deps.store.delete(sandbox.id);
    this.recordChange(sandbox, DEFAULT_PRIVILEGES);
    return DEFAULT_PRIVILEGES;
  }

  /** What the sandbox's next boot grants. */
  forBoot(sandboxId: string): BootPrivileges {
    return { noNewPrivileges: refusesNewPrivileges(this.deps.store.get(sandboxId) ?? DEFAULT_PRIVILEGES) };
  }

  private sandbox(name: string): { id: string; name: string } {
    const record = this.deps.sandboxes.byName(name);
    if (!record) throw new SandboxNotFound(name);
    return record;
  }

  private recordChange(sandbox: { id: string; name: string }, p: PrivilegesRecord): void {
    const sudo = refusesNewPrivileges(p) ? 'no new privileges, sudo refused' : 'sudo allowed';
    this.deps.events.record(sandbox, 'privileges_changed', `privileges set to profile ${p.profile} (${sudo}); applies from the next boot`, {
      profile: p.profile,
      devices: p.devices,
      no_new_privileges: p.noNewPrivileges,
    });
  }
}
