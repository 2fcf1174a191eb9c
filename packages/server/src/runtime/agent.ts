// Commands run through burrow-agent, PID 1 of every sandbox (image/burrow-agent.c): the runtime
// only starts the agent's client as root, and PID 1 forks the real command. That gives commands
// what `runsc exec` cannot (sudo works: no no_new_privs; signals reach them; a terminal when
// asked for), and behaves the same under runc.
import { randomBytes } from 'node:crypto';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { constants } from 'node:os';
import type { SandboxRuntime } from './runtime.js';

export const AGENT = '/usr/local/sbin/burrow-agent';
/** PID 1's socket: its file mode decides who may ask PID 1 for a command (and so for `sudo`). */
export const AGENT_SOCKET = '/run/burrow/agent.sock';

export interface AgentCommand {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  /** Run on a pseudo-terminal of this size inside the sandbox. */
  tty?: { rows: number; cols: number };
}

/** A command running in a sandbox: its client's stdio, and control by token. */
export interface SandboxProcessHandle {
  readonly token: string;
  readonly child: ChildProcessWithoutNullStreams;
  signal(signal: NodeJS.Signals): Promise<void>;
  resize(rows: number, cols: number): Promise<void>;
}

/**
 * Runs `args` (argv[0] an absolute path: no PATH is set) as root through PID 1 and resolves
 * once it exited 0 (rejects otherwise, or after `timeoutMs`). Right after a boot the agent's
 * client waits for PID 1 to listen.
 */
export async function runAsRoot(runtime: SandboxRuntime, containerId: string, args: string[], timeoutMs: number): Promise<void> {
  const token = randomBytes(12).toString('hex');
  await runtime.run(
    containerId,
    { args: [AGENT, 'exec', token, '0', '0', '/', '0', '0', '0', '--', ...args], env: [], cwd: '/', uid: 0, gid: 0 },
    timeoutMs,
  );
}

export function launch(runtime: SandboxRuntime, containerId: string, cmd: AgentCommand): SandboxProcessHandle {
  const token = randomBytes(12).toString('hex');
  const tty = cmd.tty ? ['1', String(cmd.tty.rows), String(cmd.tty.cols)] : ['0', '0', '0'];
  const child = runtime.exec(containerId, {
    args: [AGENT, 'exec', token, String(cmd.uid), String(cmd.gid), cmd.cwd, ...tty, '--', ...cmd.args],
    env: cmd.env,
    cwd: '/',
    uid: 0,
    gid: 0,
  });
  const control = async (args: string[]) => {
    await runtime.run(containerId, { args: [AGENT, ...args], env: [], cwd: '/', uid: 0, gid: 0 });
  };
  return {
    token,
    child,
    signal: (signal) => control(['signal', token, String(constants.signals[signal])]),
    resize: (rows, cols) => control(['resize', token, String(rows), String(cols)]),
  };
}

