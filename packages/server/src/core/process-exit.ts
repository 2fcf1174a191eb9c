// How a command in a sandbox ended, as its caller is told: the exit code a shell would report,
// or, when the sandbox ran out of memory meanwhile, 137 (SIGKILL) with a line that says so.
// Under gVisor the kernel's OOM killer kills the whole sandbox (its user-space kernel is the
// biggest process of the cgroup), and `runsc exec` then fails with a raw "urpc ... WaitPID
// failed: EOF" and exit 128; under runc it kills one process, whose status is 137 already.
import type { ChildProcess } from 'node:child_process';
import type { RuntimeKind } from '../config.js';
import { exitCodeOf } from './exit-codes.js';

export interface ProcessExit {
  exitCode: number;
  /** A line for the command's stderr when burrow knows better than its status why it ended. */
  notice?: string;
}

export interface OutOfMemoryWatch {
  sandbox: { name: string; ramMb: number; runtime: RuntimeKind };
  /** The sandbox's OOM-kill count so far (its memory cgroup), null when it has no cgroup. */
  oomKills(): number | null;
}

const KILLED = 137; // 128 + SIGKILL

/**
 * Resolves once `child` has closed (its output all read). Call when the command starts: the OOM
 * count is taken then, so only kills during the command speak for it.
 */
export async function processExit(child: ChildProcess, watch: OutOfMemoryWatch): Promise<ProcessExit> {
  const before = watch.oomKills() ?? 0;
  // Only 'close': a launch that fails emits 'error' (reported by the caller) and then 'close'.
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('close', (c: number | null, s: NodeJS.Signals | null) => resolve([c, s])),
  );
  const exitCode = exitCodeOf(code, signal);
  const killedSince = (watch.oomKills() ?? before) > before;
  // A gVisor sandbox dies whole, this command with it; under runc another process may have
  // been the one killed, so only a command that died of SIGKILL is told so.
  if (!killedSince || (watch.sandbox.runtime !== 'gvisor' && exitCode !== KILLED)) return { exitCode };
  const { name, ramMb } = watch.sandbox;
  return {
    exitCode: KILLED,
    notice: `burrow: sandbox ${name} ran out of memory (ram_mb=${ramMb}); the process was killed\n`,
  };
}
