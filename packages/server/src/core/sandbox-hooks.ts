// What features built on the sandbox lifecycle (checkpoints, egress, services, the in-sandbox
// API) add to it, and how several of them run as the one set of hooks the manager calls.
import type { SandboxRecord } from '../db/sandboxes.js';
import type { SandboxRuntime } from '../runtime/runtime.js';

/** What a feature adds to a sandbox's lifecycle (see core/checkpoints.ts, core/services.ts). */
export interface SandboxHooks {
  /** Inside create's lock, once the disk exists and before anything runs on it: takes v0. */
  diskCreated(record: SandboxRecord): Promise<void>;
  /** Before each boot: read-only host directories to bind into the sandbox, by path inside. */
  bootMounts(record: SandboxRecord, imagePath: string): Promise<Record<string, string>>;
  /** Part of teardown (so also of rollback): removes the sandbox's checkpoints. Idempotent. */
  tornDown(sandboxId: string): Promise<void>;
  /** Variables every command in the sandbox gets (the caller's own values win). */
  environment?(record: SandboxRecord): Record<string, string>;
  /** Inside boot's lock, once the container runs: what its runtime is told of it then. Never fails the boot. */
  started?(record: SandboxRecord, runtime: SandboxRuntime): Promise<void>;
  /** After a boot (create, cold wake, restart after a death), outside the lock. */
  booted?(record: SandboxRecord): void;
  /** After a warm sandbox was thawed, outside the lock. */
  resumed?(record: SandboxRecord): void;
  /** Before the container is stopped on purpose (cold sleep), or once it was found dead. */
  stopping?(record: SandboxRecord): void;
}

/** Several features' hooks as one, in the order given: mounts and variables are merged. */
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
    environment: (record) => Object.assign({}, ...all.map((h) => h.environment?.(record) ?? {})) as Record<string, string>,
    started: async (record, runtime) => {
      for (const h of all) await h.started?.(record, runtime);
    },
    booted: (record) => all.forEach((h) => h.booted?.(record)),
    resumed: (record) => all.forEach((h) => h.resumed?.(record)),
    stopping: (record) => all.forEach((h) => h.stopping?.(record)),
  };
}
