/**
 * A sandbox's privileges policy, in the Sprites JS SDK's shape and casing (spec section 8):
 * what processes inside may gain. burrow applies it from the sandbox's next boot.
 */

/**
 * `standard` (or `''`): the default, passwordless sudo. `minimal`: no new privileges (sudo is
 * refused). `privileged` is the Sprites SDK's, and burrow refuses it: no sandbox gets host privileges.
 */
export const PRIVILEGE_PROFILES = ['', 'standard', 'minimal', 'privileged'] as const;
export type PrivilegesProfile = (typeof PRIVILEGE_PROFILES)[number];

export interface PrivilegesPolicy {
  profile?: PrivilegesProfile;
  /** Device nodes; burrow accepts only those every sandbox has (null, zero, full, random, urandom, tty, ptmx). */
  devices?: string[];
  /** No process may gain privileges (set-user-ID, file capabilities, burrow's sudo): sudo fails. */
  noNewPrivileges?: boolean;
}

/** Whether the policy refuses new privileges (so sudo): `noNewPrivileges`, or the `minimal` profile. */
export function refusesNewPrivileges(policy: PrivilegesPolicy): boolean {
  return policy.noNewPrivileges === true || policy.profile === 'minimal';
}
