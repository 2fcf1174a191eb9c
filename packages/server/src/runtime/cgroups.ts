// What the host's cgroups say about a sandbox that died: the memory controller counts the OOM
// kills in its group, which tells "ran out of memory" apart from "the runtime crashed".
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const MEMORY_ROOT = '/sys/fs/cgroup/memory';

/** OOM kills recorded in the sandbox's memory cgroup (v1); 0 when the group is gone. */
export async function oomKills(cgroupsPath: string): Promise<number> {
  const text = await readFile(join(MEMORY_ROOT, cgroupsPath, 'memory.oom_control'), 'utf8').catch(() => '');
  const m = /^oom_kill (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}
