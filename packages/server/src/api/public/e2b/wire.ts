// The E2B control plane's wire shapes (shared/spec/e2b-api.md section 2), parsed at the edge:
// request bodies and queries, the objects answered, and how a template names a burrow image.
// Pure functions only, so the mapping is unit-tested without a daemon.
import { z } from 'zod';
import type { ImageName } from '../../../config.js';
import type { SandboxRecord } from '../../../db/sandboxes.js';
import type { E2bSandboxRecord } from '../../../db/e2b-sandboxes.js';

/**
 * The envd version burrow's envd speaks: the SDK turns features on by it (spec 2.5). 0.6.1
 * enables all it gates up to octet-stream uploads and closeStdin; the per-file metadata
 * (0.6.2, xattrs) and watch entries beyond it are not implemented.
 */
export const ENVD_VERSION = '0.6.1';
/** E2B's default lifetime of a sandbox, in seconds, when create names none. */
export const DEFAULT_TIMEOUT_S = 300;
/** E2B caps a lifetime at a day on its own cloud; burrow caps one request at a year. */
const MAX_TIMEOUT_S = 365 * 86_400;
export const ENVD_PORT = 49983;
export const CLIENT_ID = 'burrow';

const seconds = z.number().int().min(0).max(MAX_TIMEOUT_S);
const stringMap = z.record(z.string(), z.string());

export const newSandboxBody = z.object({
  templateID: z.string().min(1).max(256).default('base'),
  timeout: seconds.optional(),
  metadata: stringMap.optional(),
  envVars: stringMap.optional(),
  autoPause: z.boolean().optional(),
  secure: z.boolean().optional(),
  allow_internet_access: z.boolean().optional(),
});
export type NewSandboxBody = z.infer<typeof newSandboxBody>;

export const connectBody = z.object({ timeout: seconds.optional(), memory: z.boolean().optional() });
export const timeoutBody = z.object({ timeout: seconds });
export const pauseBody = z.object({ memory: z.boolean().optional() });
export const snapshotBody = z.object({ name: z.string().max(200).optional() });
/** Copies one fork request may make. */
export const MAX_FORKS = 10;
export const forkBody = z.object({ timeout: seconds.optional(), count: z.number().int().min(1).max(MAX_FORKS).optional() });

const STATES = ['running', 'paused'] as const;
export type E2bState = (typeof STATES)[number];

/** `GET /v2/sandboxes`: arrays arrive comma-joined (`state=running,paused`). */
export const listQuery = z.object({
  metadata: z.string().optional(),
  state: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const states = v ? v.split(',').filter(Boolean) : [...STATES];
      for (const s of states) {
        if (!(STATES as readonly string[]).includes(s)) {
          ctx.addIssue({ code: 'custom', message: `state '${s}' is not one of ${STATES.join(', ')}` });
          return z.NEVER;
        }
      }
      return states as E2bState[];
    }),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  nextToken: z.string().optional(),
});

/**
 * The SDK's metadata filter, encoded three times (spec 2.4): `value` is the query parameter as
 * already decoded once. Throws on a malformed escape, which the caller answers with 400.
 */
export function decodeMetadataFilter(value: string): Record<string, string> {
  const filter: Record<string, string> = {};
  for (const [key, v] of new URLSearchParams(value)) filter[decodeURIComponent(key)] = decodeURIComponent(v);
  return filter;
}

export function matchesMetadata(metadata: Record<string, string>, filter: Record<string, string>): boolean {
  return Object.entries(filter).every(([k, v]) => metadata[k] === v);
}

/** A snapshot is a checkpoint of a sandbox; its id names both, and create-from-snapshot forks it. */
export function snapshotId(sandbox: string, checkpoint: string): string {
  return `${sandbox}:${checkpoint}`;
}

export function parseSnapshotId(id: string): { sandbox: string; checkpoint: string } | null {
  const m = /^([a-z0-9-]{1,63}):([A-Za-z0-9_.-]{1,64})$/.exec(id);
  return m ? { sandbox: m[1]!, checkpoint: m[2]! } : null;
}

/** The image of each template burrow knows. */
const TEMPLATE_IMAGES: Record<string, ImageName> = {
  // E2B's `base` is a small Debian box with Python: burrow's minimal image is exactly that.
  base: 'minimal',
  'code-interpreter-v1': 'code-interpreter',
  'code-interpreter': 'code-interpreter',
  minimal: 'minimal',
  dev: 'dev',
};
/** Any other template (a custom E2B template this server cannot build) runs on the full dev image. */
const FALLBACK_IMAGE: ImageName = 'dev';

export function imageForTemplate(template: string): ImageName {
  return Object.hasOwn(TEMPLATE_IMAGES, template) ? TEMPLATE_IMAGES[template]! : FALLBACK_IMAGE;
}

export function stateOf(record: SandboxRecord): E2bState {
  return record.status === 'warm' || record.status === 'cold' ? 'paused' : 'running';
}

/** The fields `Sandbox`, `ListedSandbox` and `SandboxDetail` share (spec 2.3). */
function common(record: SandboxRecord, e2b: E2bSandboxRecord) {
  return {
    sandboxID: record.name,
    templateID: e2b.templateId,
    clientID: CLIENT_ID,
    envdVersion: ENVD_VERSION,
  };
}

export function sandboxView(record: SandboxRecord, e2b: E2bSandboxRecord, envdAccessToken: string) {
  return { ...common(record, e2b), envdAccessToken, domain: null };
}

export function listedSandboxView(record: SandboxRecord, e2b: E2bSandboxRecord) {
  return {
    ...common(record, e2b),
    alias: e2b.templateId,
    startedAt: e2b.startedAt,
    endAt: new Date(e2b.endsAt).toISOString(),
    state: stateOf(record),
    cpuCount: Math.max(1, Math.round(record.cpus)),
    memoryMB: record.ramMb,
    diskSizeMB: record.storageGb * 1024,
    metadata: e2b.metadata,
  };
}

export function sandboxDetailView(record: SandboxRecord, e2b: E2bSandboxRecord, envdAccessToken: string) {
  return {
    ...listedSandboxView(record, e2b),
    envdAccessToken,
    domain: null,
    lifecycle: { onTimeout: e2b.onTimeout, autoResume: false },
  };
}
