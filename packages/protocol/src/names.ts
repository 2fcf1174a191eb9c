/** Sandbox names are DNS labels: they become hostnames and URL host parts. */

const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Labels an operator is likely to give the API, the dashboard or their own services under the
 * URL domain (`api.example.com`): a sandbox with one of these names would answer for that host.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  'admin', 'api', 'app', 'auth', 'burrow', 'console', 'dashboard', 'docs', 'localhost', 'login',
  'mail', 'metrics', 'root', 'static', 'status', 'www',
]);

/** Why a name cannot name a sandbox, or null. */
export function nameProblem(name: string): string | null {
  if (NAME_PATTERN.test(name)) return null;
  return `'${name.slice(0, 80)}' is not a valid sandbox name: use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit`;
}

/**
 * Why a name cannot be given to a new sandbox, or null. Reserved names are refused only here, so
 * that a sandbox made before they were reserved can still be used and destroyed.
 */
export function newNameProblem(name: string): string | null {
  if (RESERVED_NAMES.has(name)) {
    return `'${name}' is reserved (it would collide with a host name of the API or dashboard): choose another name`;
  }
  return nameProblem(name);
}
