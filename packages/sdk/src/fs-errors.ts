/**
 * The error of a failed fs call (spec §6): the errno name as `code`, the HTTP status, and the
 * path the failure was about.
 */
import { BurrowError } from './errors.js';
import { FsErrorCodes, isFsErrorCode } from '@burrow/protocol';

/** An fs operation failed inside the sandbox: `code` is the errno name, `path` what it was about. */
export class FsError extends BurrowError {
  override name = 'FsError';
  readonly path: string;

  constructor(code: string, message: string, options: { status?: number; path: string; cause?: unknown }) {
    super(code, message, { status: options.status ?? (isFsErrorCode(code) ? FsErrorCodes[code] : 500), cause: options.cause });
    this.path = options.path;
  }

  /**
   * The error of a failed fs response: the fs shape `{"error": text, "code": errno, "path"}`
   * becomes an FsError, anything else (unknown sandbox, bad token) the usual BurrowError.
   */
  static fromFsResponse(status: number, body: string, fallbackPath: string): BurrowError {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
    const fields = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
    if (typeof fields.code === 'string' && /^E[A-Z0-9]+$/.test(fields.code)) {
      const message = typeof fields.error === 'string' && fields.error ? fields.error : `${fields.code}: ${fallbackPath}`;
      const path = typeof fields.path === 'string' ? fields.path : fallbackPath;
      return new FsError(fields.code, message, { status, path });
    }
    return BurrowError.fromResponse(status, body);
  }
}

export function isFsError(value: unknown): value is FsError {
  return value instanceof FsError;
}
