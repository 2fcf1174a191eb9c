/** @burrow/sdk: the TypeScript client for burrow's Sprites-compatible API. */
export { BurrowClient, type BurrowClientOptions, type CreateSandboxOptions } from './client.js';
export { Sandbox, type CheckpointStreamOptions, type CreateCheckpointOptions, type ExecOptions, type ExecResult } from './sandbox.js';
export { readEvents } from './ndjson.js';
export { PortWatcher, type ListeningPort, type PortEvent } from './network.js';
export type { EventsOptions } from './events.js';
export { SandboxProcess, type SandboxProcessEvents, type SpawnOptions } from './exec.js';
export { ExecHandle, type ExecHandleEvents } from './exec-handle.js';
export type { ExecMessage } from './exec-socket.js';
export { TerminalProcess, type TerminalSize, type TerminalSpawnOptions } from './tty.js';
export type { Attached, KillSessionOptions, SessionOptions, SessionProcess } from './sessions.js';
export {
  BurrowConnectionError,
  BurrowError,
  isBurrowConnectionError,
  isBurrowError,
  isSessionDetachedError,
  SessionDetachedError,
} from './errors.js';
export {
  adminTokenPath,
  DEFAULT_BASE_URL,
  DEFAULT_BURROW_HOME,
  resolveCredentials,
  type CredentialOptions,
  type Credentials,
} from './credentials.js';
export { SandboxFilesystem, modeString, type FsOptions, type WriteFileOptions } from './fs.js';
export { FsError, isFsError } from './fs-errors.js';
export { FsWatcher, type FsWatchOptions } from './fs-watch.js';
export { SandboxServices, type ServiceStreamOptions } from './services.js';
export type { ExportOptions, ImportOptions, SandboxExport } from './image-archives.js';
// The wire contract (shapes, error codes, token ops, macaroons) is @burrow/protocol's; SDK users
// get it from here too, so one import serves a client.
export {
  AGENT_NAMES,
  AGENTS,
  attenuate,
  attenuateToken,
  caveatsFor,
  codeForStatus,
  DEFAULT_AGENT,
  durationMs,
  ErrorCodes,
  FsErrorCodes,
  fsErrorCodeFor,
  inspectToken,
  isErrorCode,
  isFsErrorCode,
  MacaroonFormatError,
  mintMacaroon,
  parseMacaroon,
  parseSandboxCaveatValue,
  PRIVILEGE_PROFILES,
  refusesNewPrivileges,
  sandboxCaveatValue,
  SECRET_PRESET_NAMES,
  SECRET_PRESETS,
  serializeMacaroon,
  signatureValid,
  statusFor,
  TOKEN_OPS,
  type AgentName,
  type ErrorBody,
  type ErrorCode,
  type FsEntry,
  type FsEntryType,
  type FsErrorBody,
  type FsErrorCode,
  type FsListResponse,
  type FsWatchEvent,
  type FsWatchEventKind,
  type FsWatchMessage,
  type FsWatchSubscribe,
  type Macaroon,
  type NetworkPolicy,
  type NetworkPolicyRule,
  type PrivilegesPolicy,
  type PrivilegesProfile,
  type SecretPreset,
  type SecretPresetSpec,
  type TokenOp,
  type TokenRestrictions,
} from '@burrow/protocol';
// Every wire type (Sprite, Checkpoint, UsageReport, ...), for typing what the client returns.
export type * from '@burrow/protocol';
