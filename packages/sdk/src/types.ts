/**
 * Wire types of the Sprites v1 API (spec §2), snake_case exactly as they travel, plus burrow's
 * own fields. The server imports these too, so they stay plain types with no behaviour.
 */

/** Sprites documents `cold`, `warm` and `running`; burrow may report its other states too. */
export type SpriteStatus = 'cold' | 'warm' | 'running' | (string & {});

/** The isolation driver that runs a sandbox. */
export type Runtime = 'gvisor' | 'runc';

/** The base images burrow builds. */
export type ImageName = 'minimal' | 'dev';

export interface SpriteConfig {
  ram_mb: number;
  cpus: number;
  region: string;
  storage_gb: number;
  /** burrow extra: most processes and threads at once. */
  pids_limit?: number;
}

export interface UrlSettings {
  auth: 'sprite' | 'public';
  private_access?: 'admins' | 'org_users';
}

/** A sandbox as create, get, update and list return it. */
export interface Sprite {
  id: string;
  name: string;
  organization: string;
  status: SpriteStatus;
  config: SpriteConfig;
  environment: Record<string, string>;
  /** RFC 3339, like every timestamp here. */
  created_at: string;
  updated_at: string;
  url: string;
  url_settings: UrlSettings;
  bucket_name: string;
  primary_region: string;
  version: string;
  environment_version: string;
  labels: string[];
  last_running_at?: string | null;
  last_warming_at?: string | null;

  // burrow extras
  runtime: Runtime;
  /** One sentence for people, e.g. how strong the boundary around this sandbox is. */
  isolation: string;
  image: string;
  /** Why the sandbox last died underneath (out of memory, runtime crash); it boots on next use. */
  failure_reason?: string | null;
  /**
   * Something holds a running sandbox back: `pids_exhausted` while it is at its process limit
   * (nothing new can start; `burrow kill` ends its processes). Null when nothing does.
   */
  condition?: 'pids_exhausted' | null;
  /** When an idle sandbox goes warm (frozen) and then cold (stopped): `30s`, `10m`, or `off`. */
  sleep?: { warm_after: string; cold_after: string; custom: boolean };
}

/**
 * Idle timeouts for one sandbox: a duration (`30s`, `10m`, `1h`), seconds, `off` (never), or
 * null (the server's default). `cold_after` counts from the moment it went warm.
 */
export interface SleepSettings {
  warm_after?: string | number | null;
  cold_after?: string | number | null;
}

/** The body of `POST /v1/sprites`. */
export interface CreateSandboxRequest {
  name: string;
  config?: Partial<SpriteConfig>;
  /** Keys are environment variable names and travel as given (no case conversion). */
  environment?: Record<string, string>;
  url_settings?: Partial<UrlSettings>;
  labels?: string[];
  wait_for_capacity?: boolean;
  /** `default` and `dev` are the Sprites spellings; burrow maps them onto its own runtimes. */
  runtime?: Runtime | 'default' | 'dev';
  image?: ImageName;
  sleep?: SleepSettings;
}

/** Sandbox counts and limits, sent both at the top level (read by JS) and in `org` (read by Go). */
export interface OrgCounters {
  name: string;
  running: number;
  warm: number;
  cold: number;
  running_limit: number;
  warm_limit: number;
}

/** The body of `GET /v1/sprites`. */
export interface ListSpritesResponse extends OrgCounters {
  sprites: Sprite[];
  has_more: boolean;
  /** Clients stop paging when `has_more` is false or this is empty. */
  next_continuation_token?: string | null;
  org: OrgCounters;
}

/**
 * The first text frame of a TTY or detachable exec socket, and of every attach (spec §3.4,
 * §3.8). burrow sends `session_id` as a string; the docs show a number, so clients accept both.
 */
export interface SessionInfoMessage {
  type: 'session_info';
  session_id: string | number;
  command: string;
  /** Unix seconds. */
  created: number;
  cols: number;
  rows: number;
  is_owner: boolean;
  /** Decides the framing of everything after this message. */
  tty: boolean;
}

/** One exec session as `GET /v1/sprites/{name}/exec` lists it (spec §3.9). */
export interface ExecSessionSummary {
  /** Servers may send a number; the SDK always hands out a string. */
  id: string;
  command: string;
  workdir: string;
  /** RFC 3339. */
  created: string;
  bytes_per_second: number;
  is_active: boolean;
  last_activity: string | null;
  tty: boolean;
  /** A burrow extra: the exit code of a session that has ended. */
  exit_code?: number | null;
}

/** The body of `GET /v1/sprites/{name}/exec`; a missing `sessions` means none. */
export interface ListSessionsResponse {
  sessions?: Array<Omit<ExecSessionSummary, 'id'> & { id: string | number }>;
}

/** One NDJSON line of `POST /v1/sprites/{name}/exec/{id}/kill` (spec §3.10). */
export interface KillEvent {
  type: 'signal' | 'timeout' | 'exited' | 'killed' | 'error' | 'complete' | (string & {});
  message?: string;
  signal?: string;
  pid?: number;
  exit_code?: number | null;
}

/** A checkpoint as list and get return it (spec §5), plus burrow's `size_bytes`. */
export interface Checkpoint {
  /** `v0`, `v1`, ... for checkpoints taken on request (v0 right after create); `auto-1`, ... for automatic ones. */
  id: string;
  create_time: string;
  comment: string;
  /** Ancestors, nearest first: the checkpoint this one was taken on, that one's, and so on. */
  history: string[];
  is_auto: boolean;
  /** The checkpoint the sandbox stood on when this one was taken. */
  source_id: string | null;
  health: string;
  /** Bytes only this checkpoint holds on disk (what deleting it would free); null when unknown. */
  size_bytes: number | null;
}

/** One line of the NDJSON stream of checkpoint create and restore (spec §5). */
export type CheckpointEvent =
  | { type: 'info'; data: string; time: string }
  | { type: 'complete'; data: string; time: string }
  /** `code`, when the server sends one, is the registry's code for the failure (e.g. `quota_exceeded`). */
  | { type: 'error'; error: string; code?: string; time: string }
  | { type: 'stdout' | 'stderr'; data: string; time: string };

/** The body of `POST /v1/sprites/{name}/checkpoints/{id}/fork`. */
export interface ForkRequest {
  name: string;
}

/** An API token as `GET /v1/tokens` lists it (never the token text itself). */
export interface ApiToken {
  id: string;
  description: string;
  /** The caveats it was minted with; holders may have added more offline. */
  caveats: string[];
  /** The admin token in $BURROW_HOME/admin.token. */
  admin: boolean;
  /** The token that minted this one through the API (revoking it revokes this one). */
  parent_id: string | null;
  created_at: string;
  revoked_at: string | null;
}

/** One egress rule: a domain pattern with an action, or a preset (`{ include: 'defaults' }`). */
export type NetworkPolicyRule = { domain: string; action: 'allow' | 'deny' } | { include: string };

/** A sandbox's egress policy (spec §8). */
export interface NetworkPolicy {
  rules: NetworkPolicyRule[];
}

/** The answer to a restart (spec section 2): `machine_id` is the runtime container of the new boot. */
export interface RestartResult {
  sprite_name: string;
  machine_id: string;
  message: string;
}

/** The answer of `POST /v1/sprites/{name}/kill`: how many processes it ended. */
export interface KillResult {
  sprite_name: string;
  killed: number;
  message: string;
}

/**
 * A sandbox's health (spec section 2). `status`: `ok` (running, the probe answered), `unhealthy`
 * (running, the probe failed), `failed` (its container died), `warm`, `cold` (asleep: not
 * probed, not woken), `creating`, `destroying`.
 */
export interface SandboxCheck {
  sprite_name: string;
  sprite_id: string;
  status: 'ok' | 'unhealthy' | 'failed' | 'warm' | 'cold' | 'creating' | 'destroying' | (string & {});
  reason?: string;
  checked_at: string;
  /** Milliseconds the probe took, when one ran. */
  elapsed?: number;
}

/** One entry of a sandbox's event log (`GET /v1/sprites/{name}/events`, a burrow extra). */
export interface SandboxEventWire {
  /** Increasing across the server: `after=<id>` continues from an event. */
  id: number;
  sprite: string;
  sprite_id: string;
  /** created, woke, slept, checkpointed, restored, forked, oom_killed, failed, destroyed, limits_changed, disk_full, pids_exhausted */
  type: string;
  message: string;
  time: string;
  detail?: Record<string, unknown>;
}

export interface UsageFigures {
  cpu_seconds: number;
  memory_gb_seconds: number;
  disk_gb_hours: number;
}

export interface UsageCost {
  cpu: number;
  memory: number;
  storage: number;
  total: number;
}

/** `GET /v1/usage` and `GET /v1/sprites/{name}/usage` (burrow extras). */
export interface UsageReport {
  from: string;
  to: string;
  currency: 'USD';
  prices: { cpu_hour: number; ram_gb_hour: number; storage_gb_month: number };
  total: UsageFigures & { cost: UsageCost };
  sprites: Array<UsageFigures & { name: string; id: string; cost: UsageCost }>;
  /**
   * Points `step_seconds` apart from `from`, one per step with anything metered: each holds the
   * amounts metered in its step (CPU-seconds, GB-seconds of memory, GB-hours of disk), so an
   * amount over the step is the step's average rate, and the points add up to `total`.
   */
  series: { step_seconds: number; points: Array<UsageFigures & { start: string }> };
}

/** A secret as the API shows it: never its value. */
export interface SecretInfo {
  name: string;
  hosts: string[];
  inject: string;
  /** The preset it was added with (`anthropic`, `openai`, `gemini`, `github`), if any. */
  preset: string | null;
  created_at: string;
  grants: Array<{ id: string; sandbox: string; env: string | null; caveats: string[]; created_at: string }>;
}

/** A grant: the sandbox holds `placeholder`, never the value. */
export interface SecretGrant {
  id: string;
  secret: string;
  sandbox: string;
  env: string | null;
  caveats: string[];
  placeholder: string;
  created_at: string;
}

/** One use of a credential by the egress proxy. */
export interface EgressLogEntry {
  id: number;
  at: string;
  sandbox: string | null;
  secret: string | null;
  host: string;
  method: string;
  path: string;
  status: number | null;
  /** `injected`, `refused: <why>` or `failed: <why>`. */
  outcome: string;
}
