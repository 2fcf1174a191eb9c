// The Sprite object (spec section 2) as the SDKs read it, built from a sandbox record.
import type { Sprite } from '@burrow/protocol';
import type { SandboxRecord } from '../../db/sandboxes.js';
import { imageLabelOf } from '../../storage/image-recipes.js';
import { sleepTimeouts, type SleepDefaults } from '../../core/idle.js';

export interface ViewContext {
  /** Base of sandbox URLs, e.g. `http://{name}.localhost:7070`. */
  urlFor: (name: string) => string;
  isolationOf: (record: SandboxRecord) => string;
  /** Whether a running sandbox is at its process limit now. */
  processLimitReached: (record: SandboxRecord) => boolean;
  sleepDefaults: SleepDefaults;
}

/** `30s`, `10m`, `1h30m`, or `off`: how the sleep timeouts read in a Sprite object. */
export function formatTimeout(ms: number | null): string {
  if (ms === null) return 'off';
  if (ms % 1000) return `${ms}ms`;
  const s = ms / 1000;
  const parts = [[Math.floor(s / 3600), 'h'], [Math.floor((s % 3600) / 60), 'm'], [s % 60, 's']] as const;
  return parts.filter(([n]) => n > 0).map(([n, u]) => `${n}${u}`).join('') || '0s';
}

/**
 * `status` is what the Sprites SDKs know: running, warm or cold. A sandbox that died underneath
 * is cold (it boots on the next use) with `failure_reason` saying why.
 */
function publicStatus(status: SandboxRecord['status']): string {
  return status === 'failed' ? 'cold' : status;
}

export const ORGANIZATION = 'local';
export const REGION = 'local';

export function spriteView(r: SandboxRecord, ctx: ViewContext): Sprite {
  return {
    id: r.id,
    name: r.name,
    organization: ORGANIZATION,
    status: publicStatus(r.status),
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
    image: imageLabelOf(r.image),
    failure_reason: r.failureReason,
    condition: r.status === 'running' && ctx.processLimitReached(r) ? 'pids_exhausted' : null,
    sleep: sleepView(r, ctx.sleepDefaults),
  } as Sprite;
}

function sleepView(r: SandboxRecord, defaults: SleepDefaults) {
  const effective = sleepTimeouts(r, defaults);
  return {
    warm_after: formatTimeout(effective.warmAfterMs),
    cold_after: formatTimeout(effective.coldAfterMs),
    custom: r.warmAfterMs !== null || r.coldAfterMs !== null,
  };
}
