/**
 * Wire types of the Sprites v1 API (spec §2), snake_case exactly as they travel, plus burrow's
 * own fields, for the shapes that are not schemas (response-schemas.ts has those): request
 * bodies as clients write them, stream messages and NDJSON lines.
 */
import type { ImageName } from './images.js';
import type { SpriteConfig, UrlSettings } from './response-schemas.js';
import type { Runtime } from './runtimes.js';

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
