// Sandbox names are DNS labels: they become hostnames and URL host parts.
import { nameProblem } from '@burrow/protocol';
import { DomainError } from './errors.js';

/** The name itself when it is valid; otherwise a 400 `invalid_name` that says what a name is. */
export function validName(name: string): string {
  const problem = nameProblem(name);
  if (problem) throw new DomainError('invalid_name', problem);
  return name;
}
