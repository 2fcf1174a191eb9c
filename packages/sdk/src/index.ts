/** @burrow/sdk: the TypeScript client for burrow's Sprites-compatible API. */
export { BurrowClient, type BurrowClientOptions, type CreateSandboxOptions } from './client.js';
export { Sandbox, type CheckpointStreamOptions, type ExecOptions, type ExecResult } from './sandbox.js';
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
  codeForStatus,
  ErrorCodes,
  isBurrowConnectionError,
  isBurrowError,
  isErrorCode,
  isSessionDetachedError,
  SessionDetachedError,
  statusFor,
  type ErrorBody,
  type ErrorCode,
} from './errors.js';
export {
  adminTokenPath,
  DEFAULT_BASE_URL,
  DEFAULT_BURROW_HOME,
  resolveCredentials,
  type CredentialOptions,
  type Credentials,
} from './credentials.js';
export type * from './types.js';
export { SandboxFilesystem, modeString, type FsOptions, type WriteFileOptions } from './fs.js';
export { FsError, isFsError } from './fs-errors.js';
export { FsWatcher, type FsWatchOptions } from './fs-watch.js';
export { FsErrorCodes, fsErrorCodeFor, isFsErrorCode } from './fs-types.js';
export type * from './fs-types.js';
export {
  attenuate,
  MacaroonFormatError,
  mintMacaroon,
  parseMacaroon,
  serializeMacaroon,
  signatureValid,
  type Macaroon,
} from './macaroon.js';
export {
  attenuateToken,
  caveatsFor,
  inspectToken,
  parseSandboxCaveatValue,
  sandboxCaveatValue,
  TOKEN_OPS,
  type TokenOp,
  type TokenRestrictions,
} from './tokens.js';
export { durationMs } from './duration.js';
export { PRIVILEGE_PROFILES, refusesNewPrivileges, type PrivilegesPolicy, type PrivilegesProfile } from './privileges.js';
export {
  SandboxServices,
  type Service,
  type ServiceEvent,
  type ServiceRequest,
  type ServiceState,
  type ServiceStatus,
  type ServiceStreamOptions,
} from './services.js';
export {
  AGENT_NAMES,
  AGENTS,
  DEFAULT_AGENT,
  SECRET_PRESET_NAMES,
  SECRET_PRESETS,
  type AgentName,
  type SecretPreset,
  type SecretPresetSpec,
} from './agents.js';
