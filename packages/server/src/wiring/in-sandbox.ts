// The in-sandbox stage of `burrow serve`: what a sandbox sees of burrow from inside.
import { SandboxApi } from '../api/in-sandbox/sandbox-api.js';
import type { Core } from './core.js';
import type { Host } from './host.js';
import type { Storage } from './storage.js';

export interface InSandbox {
  sandboxApi: SandboxApi;
}

/**
 * What a sandbox sees of burrow from inside: the API on its own socket, then the disk gauge's
 * files (its `df`). Their boot hooks must be in place before recovery boots anything.
 */
export function buildInSandboxApi({ log }: Host, { disks }: Storage, core: Core): InSandbox {
  const { manager, tasks, checkpoints, services, activity, diskGauge } = core;
  const sandboxApi = new SandboxApi({ manager, tasks, checkpoints, services, activity, hostDirOf: (id) => disks.hostDir(id), log });
  manager.addHooks(sandboxApi.hooks());
  if (diskGauge) manager.addHooks(diskGauge.hooks());
  return { sandboxApi };
}
