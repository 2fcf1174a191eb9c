/**
 * Wire types of the filesystem API (spec §6), exactly as they travel, plus the registry of the
 * errno codes its errors carry. Server and clients both use these, so the two sides cannot drift.
 */

/** `file`, `directory` or `symlink` (a symlink is reported as itself, never followed). */
export type FsEntryType = 'file' | 'directory' | 'symlink';

/** One entry of a listing. */
export interface FsEntry {
  name: string;
  /** Absolute path inside the sandbox. */
  path: string;
  type: FsEntryType;
  size: number;
  /** Permission bits as a 4-digit octal string, e.g. `0644`; parse with `parseInt(mode, 8)`. */
  mode: string;
  /** RFC 3339. */
  modTime: string;
  isDir: boolean;
}

/** The body of `GET /fs/list`. */
export interface FsListResponse {
  path: string;
  /**
   * burrow extra: the listed path's own entry. Sprites SDKs stat a path by taking `entries[0]`,
   * which for a directory is its first child; this field is the directory itself.
   */
  self?: FsEntry;
  /** A file lists as its own single entry; a directory lists its children. */
  entries: FsEntry[];
  count: number;
}

export type FsWatchEventKind = 'write' | 'create' | 'remove' | 'rename' | 'chmod';

/** What the client sends on `/fs/watch` once the socket is open. */
export interface FsWatchSubscribe {
  type: 'subscribe';
  paths: string[];
  recursive: boolean;
  workingDir: string;
}

export interface FsWatchEvent {
  type: 'event';
  path: string;
  event: FsWatchEventKind;
  /** RFC 3339. */
  timestamp: string;
  size: number;
  isDir: boolean;
}

export type FsWatchMessage =
  | { type: 'subscribed'; paths: string[] }
  | FsWatchEvent
  | { type: 'error'; message: string };

/**
 * The errno names an fs error may carry, with their HTTP status. The Sprites SDKs know
 * ENOENT..EIO and read anything else as UNKNOWN; ENAMETOOLONG is burrow's addition. A read-only
 * filesystem (EROFS) is reported as EACCES, since Sprites clients do not know EROFS.
 */
export const FsErrorCodes = {
  ENOENT: 404,
  EACCES: 403,
  EPERM: 403,
  EEXIST: 409,
  ENOTEMPTY: 409,
  ENOTDIR: 400,
  EISDIR: 400,
  EINVAL: 400,
  ENAMETOOLONG: 400,
  EIO: 500,
} as const;

export type FsErrorCode = keyof typeof FsErrorCodes;

export function isFsErrorCode(value: string): value is FsErrorCode {
  return Object.hasOwn(FsErrorCodes, value);
}

/** The errno an fs error travels as, for any errno name the sandbox's kernel reported. */
export function fsErrorCodeFor(errnoName: string): FsErrorCode {
  if (errnoName === 'EROFS') return 'EACCES';
  return isFsErrorCode(errnoName) ? errnoName : 'EIO';
}

/** The body of every fs error response (spec §6): `error` is text here, `code` the errno. */
export interface FsErrorBody {
  error: string;
  code: FsErrorCode;
  path: string;
}
