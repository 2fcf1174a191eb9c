// Sandbox names are DNS labels: they become hostnames and URL host parts.
export const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function nameProblem(name: string): string | null {
  if (NAME_PATTERN.test(name)) return null;
  return `'${name.slice(0, 80)}' is not a valid sandbox name: use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit`;
}
