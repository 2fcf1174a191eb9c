/**
 * The errors the SDK throws: what the API answered (BurrowError, with the registry's code), that
 * nothing answered (BurrowConnectionError), or that the caller detached (SessionDetachedError).
 */
import { codeForStatus, isErrorCode, statusFor, type ErrorBody } from '@burrow/protocol';

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
