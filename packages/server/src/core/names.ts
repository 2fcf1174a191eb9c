// Sandbox names are DNS labels: they become hostnames and URL host parts.
import { ApiError } from './errors.js';

export const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function nameProblem(name: string): string | null {
  if (NAME_PATTERN.test(name)) return null;
  return `'${name.slice(0, 80)}' is not a valid sandbox name: use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit`;
}

/** The name itself when it is valid; otherwise a 400 `invalid_name` that says what a name is. */
export function validName(name: string): string {
  const problem = nameProblem(name);
  if (problem) throw new ApiError('invalid_name', problem);
  return name;
}
