// The code interpreter of `code-interpreter` sandboxes: E2B's /execute and /contexts on port
// 49999 inside, answered by a bridge to IPython kernels (sandbox-tools/code-interpreter/).
//
// The bridge is a supervised service like any other (core/services.ts), defined when the
// sandbox is created: so it starts on create, cold wake and restart, is frozen with warm sleep,
// is restarted after a crash or a daemon restart, runs as the sandbox user, and shows in
// `burrow service list` and its logs. Its code is bound read-only from the server package at
// every boot, like burrow-env, so that updating burrow updates it without a new image.
import { CODE_INTERPRETER_PORT } from '@burrow/protocol';
import type { SandboxRecord } from '../db/sandboxes.js';
import type { ServiceDefinition, ServiceStore } from '../db/services.js';
import { packageFile } from '../util/package-files.js';
import { SANDBOX_USER } from './sandbox-manager.js';
import type { SandboxHooks } from './sandbox-hooks.js';

const BRIDGE_DIR = '/usr/local/lib/burrow/code-interpreter';

export const CODE_INTERPRETER_SERVICE: ServiceDefinition = {
  name: 'code-interpreter',
  cmd: 'python3',
  args: [`${BRIDGE_DIR}/bridge.py`, '--port', String(CODE_INTERPRETER_PORT)],
  // debugpy (which ipykernel loads) warns on every kernel start that Debian's Python freezes
  // its standard modules; the warning says nothing the user can act on.
  env: { PYDEVD_DISABLE_FILE_VALIDATION: '1' },
  dir: SANDBOX_USER.home,
  needs: [],
  // The sandbox's URL stays on its own app (port 8080): the interpreter runs code for whoever
  // reaches it, which a URL made public must not offer.
  httpPort: null,
};

const hasInterpreter = (record: SandboxRecord) => record.imageName === 'code-interpreter';

export function codeInterpreterHooks(services: Pick<ServiceStore, 'put'>): SandboxHooks {
  return {
    // A fork is created too, and gets its own service (services are not copied with a disk).
    diskCreated: async (record) => {
      if (hasInterpreter(record)) services.put(record.id, CODE_INTERPRETER_SERVICE);
    },
    bootMounts: async (record): Promise<Record<string, string>> =>
      hasInterpreter(record) ? { [BRIDGE_DIR]: packageFile('sandbox-tools/code-interpreter') } : {},
    tornDown: async () => {},
  };
}
