// The Sprite object (spec section 2) as the SDKs read it, built from a sandbox record.
import type { Sprite } from '@burrow/sdk';
import type { SandboxRecord } from '../db/sandboxes.js';

export interface ViewContext {
  /** Base of sandbox URLs, e.g. `http://{name}.localhost:7070`. */
  urlFor: (name: string) => string;
  isolationOf: (record: SandboxRecord) => string;
}

export const ORGANIZATION = 'local';
export const REGION = 'local';

export function spriteView(r: SandboxRecord, ctx: ViewContext): Sprite {
  return {
    id: r.id,
    name: r.name,
    organization: ORGANIZATION,
    status: r.status,
    config: { ram_mb: r.ramMb, cpus: r.cpus, region: REGION, storage_gb: r.storageGb, pids_limit: r.pidsLimit },
    environment: r.environment,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    url: ctx.urlFor(r.name),
    url_settings: { auth: r.urlSettings.auth, private_access: r.urlSettings.private_access ?? 'admins' },
    bucket_name: '',
    primary_region: REGION,
    version: '',
    environment_version: '',
    labels: r.labels,
    last_running_at: r.lastRunningAt,
    last_warming_at: r.lastWarmingAt,
    runtime: r.runtime,
    isolation: ctx.isolationOf(r),
    image: r.imageName,
    failure_reason: r.failureReason,
  } as Sprite;
}
