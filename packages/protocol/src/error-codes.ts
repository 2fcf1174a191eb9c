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
  /** An image archive burrow cannot make a sandbox of (its format, architecture, or contents). */
  invalid_image: 400,
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
