// Request shapes, parsed at the boundary: past these schemas, handlers trust their input.
import { z } from 'zod';
import { listValue, parseCaveat, parseRfc3339 } from './caveats.js';
import { newNameProblem } from './names.js';
import { SECRET_PRESET_NAMES, type SecretPreset } from './agents.js';
import { IMAGE_NAMES } from './images.js';
import { RUNTIMES } from './runtimes.js';
import { PRIVILEGE_PROFILES } from './privileges.js';
import { TOKEN_OPS } from './tokens.js';

/** The longest comment a checkpoint may carry. */
export const MAX_COMMENT_LENGTH = 1024;

/**
 * An idle timeout: a Go-style duration (`30s`, `10m`), a number of seconds, `off` (never), or
 * null (back to the server's default). Parsed to milliseconds, 0 meaning never.
 */
const sleepTimeout = z
  .union([z.string().max(32), z.number().int().min(0).max(30 * 86_400), z.null()])
  .transform((v, ctx) => {
    if (v === null) return null;
    if (typeof v === 'number') return v * 1000;
    if (v === 'off' || v === 'never') return 0;
    const ms = parseDuration(v);
    if (ms === null || ms > 30 * 86_400_000) {
      ctx.addIssue({ code: 'custom', message: `'${v}' is not a duration like 30s, 10m or 1h (or off)` });
      return z.NEVER;
    }
    return ms;
  });

/** Per-sandbox idle sleep (`sleep` on create and update): when it goes warm, then cold. */
const sleepSettings = z
  .object({ warm_after: sleepTimeout.optional(), cold_after: sleepTimeout.optional() })
  .strict();

/**
 * A string that reaches a process as an argument, an environment value or a path. C strings end
 * at the first NUL, so such a value can never arrive intact: it is refused at the door, never
 * stored for every later exec to trip on.
 */
export const withoutNul = <T extends z.ZodString>(s: T) => s.refine((v) => !v.includes('\0'), 'must not contain a NUL byte (\\0)');

const envKey = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _');

export const createSpriteBody = z
  .object({
    name: z.string().superRefine((name, ctx) => {
      const problem = newNameProblem(name);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    config: z
      .object({
        ram_mb: z.number().int().min(128).max(262_144).optional(),
        cpus: z.number().positive().max(256).optional(),
        region: z.string().max(64).optional(),
        storage_gb: z.number().int().min(1).max(16_384).optional(),
        /** A burrow extra: most processes and threads at once (a fork bomb stops there). */
        pids_limit: z.number().int().min(16).max(1_000_000).optional(),
      })
      .strict()
      .optional(),
    environment: z.record(envKey, withoutNul(z.string().max(65_536))).optional(),
    url_settings: z
      .object({ auth: z.enum(['sprite', 'public']).optional(), private_access: z.string().max(64).optional() })
      .strict()
      .optional(),
    labels: z.array(z.string().min(1).max(63)).max(64).optional(),
    wait_for_capacity: z.boolean().optional(),
    /** `default` and `dev` are the Sprites SDKs' values; both mean the server's default runtime. */
    runtime: z.enum([...RUNTIMES, 'default', 'dev']).optional(),
    image: z.enum(IMAGE_NAMES).optional(),
    sleep: sleepSettings.optional(),
  })
  .strict();
export type CreateSpriteBody = z.infer<typeof createSpriteBody>;

/** Limits that can change on a live sandbox (region cannot). */
const limitsPatch = createSpriteBody.shape.config.unwrap().omit({ region: true });

export const updateSpriteBody = z
  .object({
    config: limitsPatch.optional(),
    url_settings: createSpriteBody.shape.url_settings,
    labels: createSpriteBody.shape.labels,
    /** Replaces the environment of the commands started from now on. */
    environment: createSpriteBody.shape.environment,
    clear_labels: z.boolean().optional(),
    sleep: sleepSettings.optional(),
  })
  .strict();

export const listSpritesQuery = z.object({
  max_results: z.coerce.number().int().min(1).optional(),
  continuation_token: z.string().max(512).optional(),
  prefix: z.string().max(63).optional(),
  bulk_load: z.string().optional(),
});

const repeated = z.preprocess((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]), z.array(z.string()));
const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const execQuery = z.object({
  cmd: repeated.pipe(z.array(withoutNul(z.string()))),
  path: withoutNul(z.string().min(1)).optional(),
  env: repeated.pipe(z.array(withoutNul(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*=/, 'env entries are KEY=VALUE')))),
  dir: withoutNul(z.string().min(1).max(4096)).optional(),
  stdin: flag.optional(),
  tty: flag.optional(),
  rows: z.coerce.number().int().min(1).max(1000).optional(),
  cols: z.coerce.number().int().min(1).max(1000).optional(),
  detachable: flag.optional(),
  cc: z.string().optional(),
  max_run_after_disconnect: z.string().max(32).optional(),
  id: z.string().optional(),
});
export type ExecQuery = z.infer<typeof execQuery>;

export const sleepQuery = z.object({
  cold: z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1').optional(),
});

/** Go-style durations as the SDKs send them: `30s`, `1m30s`, `500ms`, `0`. */
export function parseDuration(value: string): number | null {
  if (value === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of value.matchAll(re)) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    consumed += m[0].length;
  }
  return consumed === value.length && consumed > 0 ? total : null;
}

export const killQuery = z.object({
  signal: z.string().max(16).optional(),
  timeout: z.string().max(32).optional(),
});

/**
 * `POST /v1/sprites/{name}/checkpoint`: `{}` or `{"comment": "..."}` (spec §5); burrow's
 * `"memory": true` keeps the running processes too (vm sandboxes).
 */
export const createCheckpointBody = z
  .object({
    comment: z.string().max(MAX_COMMENT_LENGTH, `a comment is at most ${MAX_COMMENT_LENGTH} characters`).optional(),
    memory: z.boolean().optional(),
  })
  .strict();

export const listCheckpointsQuery = z.object({
  history: z.string().max(64).optional(),
  includeAuto: z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1').optional(),
});

/** `POST /v1/sprites/{name}/checkpoints/{id}/fork`: the new sandbox's name. */
export const forkBody = z.object({ name: createSpriteBody.shape.name }).strict();

/** Caveats a new API token may be minted with: the ones API requests are judged by. */
const apiCaveat = z
  .string()
  .max(1024)
  .refine((c) => validApiCaveat(c), {
    message: `a caveat is 'sandbox = NAME', 'sandbox-prefix = P', 'ops = ${TOKEN_OPS.join(',')}' (a subset), 'expires = RFC3339' or 'not-before = RFC3339'`,
  });

export const createTokenBody = z
  .object({ description: z.string().max(200).optional(), caveats: z.array(apiCaveat).max(32).optional() })
  .strict();

function validApiCaveat(caveat: string): boolean {
  const parsed = parseCaveat(caveat);
  if (!parsed) return false;
  const { key, value } = parsed;
  if (key === 'sandbox' || key === 'sandbox-prefix') return value.length > 0 || key === 'sandbox-prefix';
  if (key === 'ops') return listValue(value).every((op) => (TOKEN_OPS as readonly string[]).includes(op));
  if (key === 'expires' || key === 'not-before') return parseRfc3339(value) !== null;
  return false;
}

/** The dashboard's login: an API token to keep in the session cookie. */
export const dashboardLoginBody = z.strictObject({ token: z.string().min(1).max(8192) });

/** `POST /v1/sprites/{name}/policy/resources` (spec section 8): the memory limit. */
/** The Sprites JS SDK's privileges policy, in its own casing (spec section 8); fields left out keep their value. */
export const privilegesPolicyBody = z
  .object({
    profile: z.enum(PRIVILEGE_PROFILES).optional(),
    devices: z.array(z.string().min(1).max(256)).max(64).optional(),
    noNewPrivileges: z.boolean().optional(),
  })
  .strict();

export const resourcePolicyBody = z
  .object({
    memory: z
      .object({ limit_mb: createSpriteBody.shape.config.unwrap().shape.ram_mb, autoscale: z.boolean().optional() })
      .strict()
      .optional(),
  })
  .strict();

/** `GET /v1/sprites/{name}/events`. */
export const eventsQuery = z
  .object({
    after: z.coerce.number().int().min(0).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    follow: flag.optional(),
  })
  .strict();

/** RFC 3339 or Unix seconds. */
const instant = z
  .string()
  .max(40)
  .transform((v, ctx) => {
    const date = /^\d{1,12}$/.test(v) ? new Date(Number(v) * 1000) : new Date(v);
    if (Number.isNaN(date.getTime()) || !/^\d{1,12}$|^\d{4}-\d{2}-\d{2}/.test(v)) {
      ctx.addIssue({ code: 'custom', message: `'${v}' is not a time: use RFC 3339 (2025-01-31T12:00:00Z) or Unix seconds` });
      return z.NEVER;
    }
    return date;
  });

/** `GET /v1/usage` and `GET /v1/sprites/{name}/usage`. */
export const usageQuery = z
  .object({
    from: instant.optional(),
    to: instant.optional(),
    sprite: z.string().max(63).optional(),
  })
  .strict();

export const addSecretBody = z
  .object({
    name: z.string().min(1).max(63),
    /** Fills in `hosts` and `inject` (given ones win) and the variables a grant sets. */
    preset: z.enum(SECRET_PRESET_NAMES as [SecretPreset, ...SecretPreset[]]).optional(),
    hosts: z.array(z.string().min(1).max(253)).min(1).max(64).optional(),
    inject: z.string().min(4).max(512).optional(),
    value: z.string().min(1).max(65_536),
  })
  .strict();

export const grantSecretBody = z
  .object({
    sandbox: z.string().min(1).max(63),
    env: envKey.optional(),
    /** Go-style duration (`1h`, `30m`) or milliseconds. */
    ttl: z.union([z.string().max(32), z.number().int().positive()]).optional(),
  })
  .strict();

export const egressLogQuery = z
  .object({
    secret: z.string().max(63).optional(),
    sandbox: z.string().max(63).optional(),
    limit: z.coerce.number().int().min(1).max(10_000).optional(),
  })
  .strict();

/** Service names end up in a log file name inside the sandbox: no slashes, no leading dot. */
export const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const serviceName = z.string().regex(SERVICE_NAME, 'a service name is 1-63 of letters, digits, _ . - (not starting with . _ or -)');

/** `PUT /services/{svc}` (spec §7). */
export const serviceBody = z
  .object({
    cmd: withoutNul(z.string().min(1).max(4096)),
    args: z.array(withoutNul(z.string().max(65_536))).max(4096).optional(),
    env: z.record(envKey, withoutNul(z.string().max(65_536))).optional(),
    dir: withoutNul(z.string().min(1).max(4096).startsWith('/', 'dir is an absolute path')).optional(),
    needs: z.array(serviceName).max(64).optional(),
    http_port: z.number().int().min(1).max(65_535).nullable().optional(),
  })
  .strict();
export type ServiceSpec = z.infer<typeof serviceBody>;

const duration = (what: string) =>
  z
    .string()
    .max(32)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: `${what}: '${v}' is not a duration like 5s or 1m` });
        return z.NEVER;
      }
      return ms;
    });

export const serviceStreamQuery = z.object({ duration: duration('duration').optional() });
export const serviceStopQuery = z.object({ timeout: duration('timeout').optional() });
export const serviceLogsQuery = z.object({
  lines: z.coerce.number().int().min(0).max(100_000).optional(),
  duration: duration('duration').optional(),
});
export const serviceSignalBody = z.object({ name: serviceName, signal: z.string().min(1).max(16) }).strict();
export { serviceName };

/** A keep-alive task's lifetime: a Go-style duration (`20m`) or seconds; at most 1 h. */
const taskExpire = z.union([z.string().max(32), z.number().positive().max(3600)]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v * 1000 : parseDuration(v);
  if (ms === null || ms <= 0 || ms > 3_600_000) {
    ctx.addIssue({ code: 'custom', message: `expire: '${v}' must be a duration like 30s or 20m, at most 1h` });
    return z.NEVER;
  }
  return ms;
});

export const createTaskBody = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$/, 'a task name is 1-63 of letters, digits, _ . : -').optional(),
    expire: taskExpire,
  })
  .strict();
export const extendTaskBody = z.object({ expire: taskExpire }).strict();

/** The first text frame on the TCP proxy's WebSocket (spec §9): the port inside to connect to. */
export const tcpProxyInitMessage = z.object({
  host: z.string().max(253).optional(),
  port: z.number().int().min(1).max(65_535),
});
export type TcpProxyInit = z.infer<typeof tcpProxyInitMessage>;
