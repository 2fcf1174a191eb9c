// Several features add to a sandbox's lifecycle (checkpoints, egress): this runs all of them
// as the one set of hooks the manager calls, in the order given.
import type { SandboxRecord } from '../db/sandboxes.js';
import type { SandboxHooks } from './sandbox-manager.js';

export function combineHooks(...all: Array<Partial<SandboxHooks>>): SandboxHooks {
  return {
    diskCreated: async (record) => {
      for (const h of all) await h.diskCreated?.(record);
    },
    bootMounts: async (record, imagePath) => {
      const mounts: Record<string, string> = {};
      for (const h of all) Object.assign(mounts, await h.bootMounts?.(record, imagePath));
      return mounts;
    },
    tornDown: async (sandboxId) => {
      for (const h of all) await h.tornDown?.(sandboxId);
    },
    environment: (record: SandboxRecord) => Object.assign({}, ...all.map((h) => h.environment?.(record) ?? {})) as Record<string, string>,
  };
}
