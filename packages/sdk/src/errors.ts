/**
 * The one registry of API error codes, shared by the server (which answers with them) and the
 * clients (which read them). On the wire an error is always the flat body of spec §1:
 * `{"error":"<code>","message":"<what to do>"}`; a nested body breaks the Sprites SDKs.
 */

export const ErrorCodes = {
  invalid_request: 400,
  invalid_name: 400,
  unknown_field: 400,
  invalid_policy: 400,
  /** A sandbox limit beyond what the host has (cores, memory, pool size). */
  invalid_limits: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  sandbox_not_found: 404,
  checkpoint_not_found: 404,
  conflict: 409,
  sandbox_exists: 409,
  sandbox_busy: 409,
  checkpoint_in_use: 409,
  /** A sandbox's checkpoints hold their budget (BURROW_CHECKPOINT_BUDGET x storage_gb). */
  quota_exceeded: 409,
  /** The sandbox is at its process limit (pids_limit): nothing new can start in it. */
  pids_exhausted: 409,
  gone: 410,
  payload_too_large: 413,
  /** The request's head (its URL and headers) is over the server's 16 KiB. */
  headers_too_large: 431,
  rate_limited: 429,
  /** The server's org-wide limit of running sandboxes is reached (the Sprites code). */
  concurrent_sprite_limit_exceeded: 429,
  internal: 500,
  runtime_failed: 500,
  unavailable: 503,
  /** The storage pool's free space is below its reserve: nothing new is written to it. */
  pool_full: 507,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** The body of every API error response. */
export interface ErrorBody {
  error: string;
  message: string;
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ErrorCodes, value);
}

export function statusFor(code: ErrorCode): number {
  return ErrorCodes[code];
}

/**
 * The generic code for a status, for error bodies that carry none (a proxy's HTML page, an
 * empty 502). The registry lists generic codes before specific ones, so the first match is it.
 */
export function codeForStatus(status: number): ErrorCode {
  for (const [code, codeStatus] of Object.entries(ErrorCodes)) {
    if (codeStatus === status) return code as ErrorCode;
  }
  return status >= 500 ? 'internal' : 'invalid_request';
}

export class BurrowError extends Error {
  override name = 'BurrowError';
  readonly status: number;
  /** Usually an {@link ErrorCode}; a newer server may send codes this registry does not know. */
  readonly code: string;
  /** From `Retry-After` or `retry_after_seconds`, when the server asks the caller to slow down. */
  readonly retryAfterSeconds?: number;

  constructor(
    code: string,
    message: string,
    options: { status?: number; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? (isErrorCode(code) ? statusFor(code) : 500);
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /**
   * Builds the error from an HTTP error response the way the Sprites SDKs do (spec §1): a body
   * that is not JSON is the message as-is; otherwise `message`, else `error`, else a generic line.
   */
  static fromResponse(status: number, body: string, retryAfterHeader?: string | null): BurrowError {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
    const fields = isRecord(parsed) ? parsed : undefined;
    const code = stringField(fields, 'error') ?? codeForStatus(status);
    const message =
      fields === undefined
        ? body.trim() || `API error (status ${status})`
        : (stringField(fields, 'message') ?? stringField(fields, 'error') ?? `API error (status ${status})`);
    const retryAfterSeconds =
      numberField(fields, 'retry_after_seconds') ?? parseSeconds(retryAfterHeader ?? undefined);
    return new BurrowError(code, message, {
      status,
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    });
  }

  /** The wire form, for servers. */
  toBody(): ErrorBody {
    return { error: this.code, message: this.message };
  }
}

export function isBurrowError(value: unknown): value is BurrowError {
  return value instanceof BurrowError;
}

/**
 * The API could not be reached at all (refused, reset, timed out): nothing answered, so there
 * is no status or code. Kept apart from BurrowError so callers can tell "burrow said no" from
 * "burrow is not there".
 */
export class BurrowConnectionError extends Error {
  override name = 'BurrowConnectionError';
  constructor(
    readonly baseURL: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

export function isBurrowConnectionError(value: unknown): value is BurrowConnectionError {
  return value instanceof BurrowConnectionError;
}

/**
 * The caller detached from a session: the command may well still be running (detachable
 * sessions do), so there is no exit code to report. `wait()` rejects with this after `detach()`.
 */
export class SessionDetachedError extends Error {
  override name = 'SessionDetachedError';
  constructor(
    readonly sandboxName: string,
    readonly sessionId: string | undefined,
  ) {
    super(
      sessionId === undefined
        ? `detached from a command in sandbox '${sandboxName}' before it exited`
        : `detached from session '${sessionId}' in sandbox '${sandboxName}'; attach to it again to see its exit`,
    );
  }
}

export function isSessionDetachedError(value: unknown): value is SessionDetachedError {
  return value instanceof SessionDetachedError;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringField(fields: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = fields?.[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function numberField(fields: Record<string, unknown> | undefined, key: string): number | undefined {
  const value = fields?.[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function parseSeconds(header: string | undefined): number | undefined {
  if (header === undefined || !/^\d+$/.test(header.trim())) return undefined;
  return Number(header.trim());
}
