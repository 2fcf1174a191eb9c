/**
 * What the API answers, as schemas: the OpenAPI document spells these out and test doubles check
 * their answers against them. The TypeScript types are inferred, so the two cannot differ.
 * Answers are not strict: a client must accept fields a newer server adds.
 */
import { z } from 'zod';
import { type Runtime, RUNTIMES } from './runtimes.js';

/** Sprites documents `cold`, `warm` and `running`; burrow may report its other states too. */
export type SpriteStatus = 'cold' | 'warm' | 'running' | (string & {});


/** A string whose known values may grow: typed as the known ones (or any), described for tools. */
function openEnum<T extends string>(known: readonly string[], description: string) {
  return z.string().describe(`${description}: ${known.join(', ')}, or a value a newer server adds`) as unknown as z.ZodType<T>;
}

/** RFC 3339, like every timestamp here. */
const time = z.string().describe('RFC 3339');

export const spriteConfigSchema = z.object({
  ram_mb: z.number(),
  cpus: z.number(),
  region: z.string(),
  storage_gb: z.number(),
  pids_limit: z.number().optional().describe('burrow extra: most processes and threads at once'),
});
export type SpriteConfig = z.infer<typeof spriteConfigSchema>;

export const urlSettingsSchema = z.object({
  auth: z.enum(['sprite', 'public']),
  private_access: z.enum(['admins', 'org_users']).optional(),
});
export type UrlSettings = z.infer<typeof urlSettingsSchema>;

/** A sandbox as create, get, update and list return it. */
export const spriteSchema = z.object({
  id: z.string(),
  name: z.string(),
  organization: z.string(),
  status: openEnum<SpriteStatus>(['cold', 'warm', 'running'], 'Sprites documents these; burrow may report its other states too'),
  config: spriteConfigSchema,
  environment: z.record(z.string(), z.string()),
  created_at: time,
  updated_at: time,
  url: z.string(),
  url_settings: urlSettingsSchema,
  bucket_name: z.string(),
  primary_region: z.string(),
  version: z.string(),
  environment_version: z.string(),
  labels: z.array(z.string()),
  last_running_at: time.nullable().optional(),
  last_warming_at: time.nullable().optional(),
  // burrow extras
  runtime: z.enum(RUNTIMES) as z.ZodType<Runtime>,
  isolation: z.string().describe('one sentence for people: how strong the boundary around this sandbox is'),
  image: z.string(),
  failure_reason: z
    .string()
    .nullable()
    .optional()
    .describe('why the sandbox last died underneath (out of memory, runtime crash); it boots on next use'),
  condition: openEnum<'pids_exhausted'>(['pids_exhausted'], 'something holds a running sandbox back (pids_exhausted: at its process limit, nothing new can start; kill ends its processes)')
    .nullable()
    .optional(),
  sleep: z
    .object({ warm_after: z.string(), cold_after: z.string(), custom: z.boolean() })
    .optional()
    .describe('when an idle sandbox goes warm (frozen) and then cold (stopped): 30s, 10m, or off'),
});
export type Sprite = z.infer<typeof spriteSchema>;

/** Sandbox counts and limits, sent both at the top level (read by JS) and in `org` (read by Go). */
export const orgCountersSchema = z.object({
  name: z.string(),
  running: z.number(),
  warm: z.number(),
  cold: z.number(),
  running_limit: z.number(),
  warm_limit: z.number(),
});
export type OrgCounters = z.infer<typeof orgCountersSchema>;

/** The body of `GET /v1/sprites`. */
export const listSpritesResponseSchema = orgCountersSchema.extend({
  sprites: z.array(spriteSchema),
  has_more: z.boolean(),
  next_continuation_token: z.string().nullable().optional().describe('clients stop paging when has_more is false or this is empty'),
  org: orgCountersSchema,
});
export type ListSpritesResponse = z.infer<typeof listSpritesResponseSchema>;

/** A checkpoint as list and get return it (spec §5), plus burrow's `size_bytes`. */
export const checkpointSchema = z.object({
  id: z.string().describe('v0, v1, ... (v0 is taken at create); auto-1, ... for automatic ones'),
  create_time: z.iso.datetime(),
  comment: z.string(),
  history: z.array(z.string()).describe('ancestors, nearest first'),
  is_auto: z.boolean(),
  memory: z.boolean().describe('it holds the running processes too (vm sandboxes): a restore or fork of it resumes them'),
  source_id: z.string().nullable().describe('the checkpoint the sandbox stood on when this one was taken'),
  health: z.string(),
  size_bytes: z.number().int().nullable().describe('bytes only this checkpoint holds (what deleting it would free); null when unknown'),
});
export type Checkpoint = z.infer<typeof checkpointSchema>;

/** An API token as `GET /v1/tokens` lists it (never the token text itself). */
export const apiTokenSchema = z.object({
  id: z.string(),
  description: z.string(),
  caveats: z.array(z.string()).describe('the caveats it was minted with; holders may have added more offline'),
  admin: z.boolean().describe('the admin token in $BURROW_HOME/admin.token'),
  parent_id: z.string().nullable().describe('the token that minted this one (revoking it revokes this one)'),
  created_at: time,
  revoked_at: time.nullable(),
});
export type ApiToken = z.infer<typeof apiTokenSchema>;

/** The answer to a restart (spec section 2): `machine_id` is the runtime container of the new boot. */
export const restartResultSchema = z.object({ sprite_name: z.string(), machine_id: z.string(), message: z.string() });
export type RestartResult = z.infer<typeof restartResultSchema>;

/** The answer of `POST /v1/sprites/{name}/kill`: how many processes it ended. */
export const killResultSchema = z.object({ sprite_name: z.string(), killed: z.number(), message: z.string() });
export type KillResult = z.infer<typeof killResultSchema>;

/** A sandbox's health (spec section 2); warm and cold ones are reported, never probed or woken. */
export const sandboxCheckSchema = z.object({
  sprite_name: z.string(),
  sprite_id: z.string(),
  status: openEnum<'ok' | 'unhealthy' | 'failed' | 'warm' | 'cold' | 'creating' | 'destroying' | (string & {})>(
    ['ok', 'unhealthy', 'failed', 'warm', 'cold', 'creating', 'destroying'],
    'ok and unhealthy for a probed running sandbox',
  ),
  reason: z.string().optional(),
  checked_at: time,
  elapsed: z.number().optional().describe('milliseconds the probe took, when one ran'),
});
export type SandboxCheck = z.infer<typeof sandboxCheckSchema>;

/** One entry of a sandbox's event log (`GET /v1/sprites/{name}/events`, a burrow extra). */
export const sandboxEventSchema = z.object({
  id: z.number().describe('increasing across the server: after=<id> continues from an event'),
  sprite: z.string(),
  sprite_id: z.string(),
  type: z
    .string()
    .describe('created, woke, slept, checkpointed, restored, forked, oom_killed, failed, destroyed, limits_changed, disk_full, pids_exhausted, ...'),
  message: z.string(),
  time,
  detail: z.record(z.string(), z.unknown()).optional(),
});
export type SandboxEventWire = z.infer<typeof sandboxEventSchema>;

export const usageFiguresSchema = z.object({ cpu_seconds: z.number(), memory_gb_seconds: z.number(), disk_gb_hours: z.number() });
export type UsageFigures = z.infer<typeof usageFiguresSchema>;

export const usageCostSchema = z.object({ cpu: z.number(), memory: z.number(), storage: z.number(), total: z.number() });
export type UsageCost = z.infer<typeof usageCostSchema>;

/** `GET /v1/usage` and `GET /v1/sprites/{name}/usage` (burrow extras). */
export const usageReportSchema = z.object({
  from: time,
  to: time,
  currency: z.literal('USD'),
  prices: z.object({ cpu_hour: z.number(), ram_gb_hour: z.number(), storage_gb_month: z.number() }),
  total: usageFiguresSchema.extend({ cost: usageCostSchema }),
  sprites: z.array(usageFiguresSchema.extend({ name: z.string(), id: z.string(), cost: usageCostSchema })),
  series: z
    .object({ step_seconds: z.number(), points: z.array(usageFiguresSchema.extend({ start: time })) })
    .describe(
      'points step_seconds apart from `from`, one per step with anything metered, each holding what its step metered, so they add up to `total`',
    ),
});
export type UsageReport = z.infer<typeof usageReportSchema>;

/** A secret as the API shows it: never its value. */
export const secretInfoSchema = z.object({
  name: z.string(),
  hosts: z.array(z.string()),
  inject: z.string(),
  preset: z.string().nullable().describe('the preset it was added with (anthropic, openai, gemini, github), if any'),
  created_at: time,
  grants: z.array(z.object({ id: z.string(), sandbox: z.string(), env: z.string().nullable(), caveats: z.array(z.string()), created_at: time })),
});
export type SecretInfo = z.infer<typeof secretInfoSchema>;

/** A grant: the sandbox holds `placeholder`, never the value. */
export const secretGrantSchema = z.object({
  id: z.string(),
  secret: z.string(),
  sandbox: z.string(),
  env: z.string().nullable(),
  caveats: z.array(z.string()),
  placeholder: z.string(),
  created_at: time,
});
export type SecretGrant = z.infer<typeof secretGrantSchema>;

/** One use of a credential by the egress proxy. */
export const egressLogEntrySchema = z.object({
  id: z.number(),
  at: time,
  sandbox: z.string().nullable(),
  secret: z.string().nullable(),
  host: z.string(),
  method: z.string(),
  path: z.string(),
  status: z.number().nullable(),
  outcome: z.string().describe('injected, refused: <why> or failed: <why>'),
});
export type EgressLogEntry = z.infer<typeof egressLogEntrySchema>;
