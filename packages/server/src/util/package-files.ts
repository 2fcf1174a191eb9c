// What the daemon runs and reads from its own package, beside src/ and dist/: the host tools
// (host-tools/*.py) and the files sandboxes and images get (image/, sandbox-tools/).
import { fileURLToPath } from 'node:url';

/**
 * The interpreter of the host tools (`host-tools/*.py`): Debian's, which `burrow doctor --fix`
 * installs, never whichever `python3` comes first on PATH (a version manager's shim there costs
 * over a second per start, and another Python is not the one the tools are run with in tests).
 */
export const HOST_PYTHON = '/usr/bin/python3';

/** A file shipped in the server package (next to src/ and dist/). */
export function packageFile(relative: string): string {
  return fileURLToPath(new URL(`../../${relative}`, import.meta.url));
}
