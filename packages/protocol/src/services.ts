/**
 * Wire types of services (spec §7): long-running programs burrow supervises inside a sandbox.
 */

/** `PUT /services/{name}`: what to run. `dir` defaults to the sandbox user's home. */
export interface ServiceRequest {
  cmd: string;
  args?: string[];
  env?: Record<string, string>;
  dir?: string;
  needs?: string[];
  http_port?: number | null;
}

export type ServiceStatus = 'stopped' | 'starting' | 'running' | 'stopping' | 'failed';

export interface ServiceState {
  name: string;
  status: ServiceStatus;
  pid: number | null;
  started_at: string | null;
  error: string | null;
  restart_count: number;
  next_restart_at: string | null;
}

export interface Service {
  name: string;
  cmd: string;
  args: string[];
  env: Record<string, string>;
  dir: string;
  needs: string[];
  http_port: number | null;
  state: ServiceState;
}

export interface ServiceEvent {
  type: 'started' | 'stdout' | 'stderr' | 'exit' | 'error' | 'complete' | 'stopping' | 'stopped';
  data?: string;
  exit_code?: number;
  /** Unix milliseconds. */
  timestamp: number;
  log_files?: string[];
}
