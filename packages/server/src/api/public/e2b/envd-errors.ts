// burrow's errors as envd's: Connect codes for RPCs (the SDK maps them, spec 3.5), HTTP statuses
// with `{"code","message"}` for /files (spec 3.6).
import { Code, ConnectError } from '@connectrpc/connect';
import type { FsErrorCode } from '@burrow/protocol';
import { DomainError } from '../../../core/errors.js';
import { httpStatusOf } from '../../errors.js';
import { FsError } from '../../../core/sandbox-fs.js';

const FS_CODES: Record<FsErrorCode, Code> = {
  ENOENT: Code.NotFound,
  EACCES: Code.PermissionDenied,
  EPERM: Code.PermissionDenied,
  EEXIST: Code.AlreadyExists,
  ENOTEMPTY: Code.FailedPrecondition,
  ENOTDIR: Code.InvalidArgument,
  EISDIR: Code.InvalidArgument,
  EINVAL: Code.InvalidArgument,
  ENAMETOOLONG: Code.InvalidArgument,
  EIO: Code.Internal,
};

function codeOfStatus(status: number): Code {
  if (status === 400) return Code.InvalidArgument;
  if (status === 401) return Code.Unauthenticated;
  if (status === 403) return Code.PermissionDenied;
  if (status === 404) return Code.NotFound;
  if (status === 409) return Code.FailedPrecondition;
  if (status === 429) return Code.ResourceExhausted;
  if (status === 503 || status === 502) return Code.Unavailable;
  if (status === 507) return Code.ResourceExhausted;
  return Code.Internal;
}

/** Any failure of a handler as the ConnectError the client should see. */
export function toConnectError(e: unknown): ConnectError {
  if (e instanceof ConnectError) return e;
  if (e instanceof FsError) return new ConnectError(e.message, FS_CODES[e.code]);
  if (e instanceof DomainError) return new ConnectError(e.message, codeOfStatus(httpStatusOf(e)));
  return new ConnectError((e as Error).message ?? String(e), Code.Internal);
}

/** Runs `fn`, rethrowing its failure as a ConnectError. */
export async function rpc<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toConnectError(e);
  }
}

/** The HTTP status of a failure on /files. */
export function statusOf(e: unknown): number {
  if (e instanceof FsError) return e.code === 'EIO' ? 500 : httpStatusOf(e);
  if (e instanceof DomainError) return httpStatusOf(e);
  return 500;
}
