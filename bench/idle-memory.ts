// Host memory one idle running sandbox costs, read from /proc and the memory cgroup (not from
// burrow's bookkeeping). A sandbox's processes are those whose command line names its container
// id (runsc's sandbox, gofer and ptrace stubs), those in its memory cgroup (runc's init and
// whatever it started), and their descendants. PSS shares pages mapped by several processes
// fairly (gVisor's stubs map the same memory file), so it is the headline; RSS and the cgroup's
// counter are beside.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Runtime, Sandbox } from '@burrow/sdk';
import type { BurrowInstance } from '../test/support/instance.js';
import { log, type Benchmark } from './context.js';
import { formatBytes } from './stats.js';

/** How long a fresh sandbox is left alone before it is measured. */
const SETTLE_MS = 3000;
/** The floor to compare with: about the least an idle process tree can be, run on the host. */
const IDLE_LOOP = 'while :; do sleep 86400; done';

interface Proc {
  pid: number;
  ppid: number;
  name: string;
  cmdline: string;
}

interface Usage {
  processes: string[];
  rss: number;
  /** Null when the kernel has no smaps_rollup. */
  pss: number | null;
  cgroup: { usage: number; rss: number; cache: number } | null;
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

function processes(): Proc[] {
  const procs: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readOr(`/proc/${entry}/stat`, '');
    // The name is in parentheses and may itself hold spaces or parentheses.
    const m = /^\d+ \((.*)\) \S+ (\d+)/s.exec(stat);
    if (!m) continue;
    procs.push({ pid: Number(entry), ppid: Number(m[2]), name: m[1]!, cmdline: readOr(`/proc/${entry}/cmdline`, '').replaceAll('\0', ' ') });
  }
  return procs;
}

/** `seeds` and every process below them. */
function withDescendants(all: Proc[], seeds: Set<number>): Proc[] {
  const found = new Set(seeds);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (!found.has(p.pid) && found.has(p.ppid)) {
        found.add(p.pid);
        grew = true;
      }
    }
  }
  return all.filter((p) => found.has(p.pid));
}

function kib(text: string, field: string): number | null {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : null;
}

function usageOf(procs: Proc[], cgroupDir: string | null): Usage {
  let rss = 0;
  let pss: number | null = 0;
  for (const p of procs) {
    rss += kib(readOr(`/proc/${p.pid}/status`, ''), 'VmRSS') ?? 0;
    const rollup = kib(readOr(`/proc/${p.pid}/smaps_rollup`, ''), 'Pss');
    pss = rollup === null || pss === null ? null : pss + rollup;
  }
  let cgroup: Usage['cgroup'] = null;
  if (cgroupDir) {
    const usage = Number(readOr(`${cgroupDir}/memory.usage_in_bytes`, 'NaN'));
    const stat = readOr(`${cgroupDir}/memory.stat`, '');
    const field = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(stat)?.[1] ?? NaN);
    if (Number.isFinite(usage)) cgroup = { usage, rss: field('total_rss'), cache: field('total_cache') };
  }
  // argv[0], since runsc re-executes itself and all its processes are called 'exe'; those with
  // no argv at all are the ptrace platform's stubs (one per address space in the sandbox).
  const names = new Map<string, number>();
  for (const p of procs) {
    const name = p.cmdline.split(' ')[0]?.split('/').pop() || `${p.name} (no argv)`;
    names.set(name, (names.get(name) ?? 0) + 1);
  }
  return { processes: [...names].map(([n, c]) => (c > 1 ? `${n} x${c}` : n)), rss, pss, cgroup };
}

function sandboxUsage(burrow: BurrowInstance, sandbox: Sandbox, runtime: 'gvisor' | 'runc'): Usage {
  const sandboxId = sandbox.info?.id;
  if (!sandboxId) throw new Error(`the create reply for ${sandbox.name} carries no id`);
  const id = burrow.containerOf(sandboxId, runtime);
  const instanceTag = burrow.config.instanceTag;
  const cgroupDir = `/sys/fs/cgroup/memory/burrow-${instanceTag}-${id}`;
  const all = processes();
  const seeds = new Set(all.filter((p) => p.cmdline.includes(id)).map((p) => p.pid));
  for (const line of readOr(`${cgroupDir}/cgroup.procs`, '').split('\n')) if (line) seeds.add(Number(line));
  const procs = withDescendants(all, seeds);
  if (procs.length === 0) throw new Error(`no host process found for container ${id}`);
  return usageOf(procs, cgroupDir);
}

/** An idle shell loop as plain host processes (sh + sleep). */
async function hostLoopUsage(): Promise<Usage> {
  const child = spawn('sh', ['-c', IDLE_LOOP], { stdio: 'ignore', detached: true });
  try {
    await sleep(500);
    return usageOf(withDescendants(processes(), new Set([child.pid!])), null);
  } finally {
    // Its own process group: the loop's sleep goes too.
    process.kill(-child.pid!, 'SIGKILL');
  }
}

function describe(u: Usage): string {
  const cg = u.cgroup ? `; cgroup ${formatBytes(u.cgroup.usage)} (rss ${formatBytes(u.cgroup.rss)}, cache ${formatBytes(u.cgroup.cache)})` : '';
  return `RSS ${formatBytes(u.rss)}${cg}; ${u.processes.join(', ')}`;
}

export const idleMemory: Benchmark = {
  name: 'idle-memory',
  description: `host memory of one idle running sandbox (${SETTLE_MS / 1000} s after create): PSS/RSS of its processes, memory cgroup`,
  async run(ctx) {
    const burrow = await ctx.burrow();
    const usage = {} as Record<Runtime, Usage>;
    await ctx.withSandbox('mem-gvisor', { runtime: 'gvisor' }, (gvisor) =>
      ctx.withSandbox('mem-runc', { runtime: 'runc' }, async (runc) => {
        await sleep(SETTLE_MS);
        usage.gvisor = sandboxUsage(burrow, gvisor, 'gvisor');
        usage.runc = sandboxUsage(burrow, runc, 'runc');
      }),
    );
    const host = await hostLoopUsage();
    for (const [what, u] of Object.entries({ ...usage, host })) {
      log(`${what}: PSS ${u.pss === null ? 'n/a' : formatBytes(u.pss)}, ${describe(u)}`);
    }
    // PSS when the kernel has it, RSS otherwise, the same measure for figure and baseline.
    const measure = (u: Usage) => (u.pss ?? u.rss);
    const kind = usage.gvisor.pss === null || usage.runc.pss === null || host.pss === null ? 'RSS' : 'PSS';
    return {
      figures: [
        {
          label: `idle sandbox ${kind}, gvisor`,
          value: measure(usage.gvisor),
          unit: 'bytes',
          detail: describe(usage.gvisor),
          baseline: { label: 'runc sandbox', value: measure(usage.runc) },
          compare: 'ratio',
        },
        {
          label: `idle sandbox ${kind}, runc`,
          value: measure(usage.runc),
          unit: 'bytes',
          detail: describe(usage.runc),
          baseline: { label: 'idle sh+sleep on host', value: measure(host) },
          compare: 'ratio',
        },
        ...(usage.gvisor.cgroup && usage.runc.cgroup
          ? [
              {
                label: 'idle sandbox memory cgroup usage, gvisor',
                value: usage.gvisor.cgroup.usage,
                unit: 'bytes' as const,
                detail: 'memory.usage_in_bytes: includes page cache charged to the sandbox',
                baseline: { label: 'runc sandbox', value: usage.runc.cgroup.usage },
                compare: 'ratio' as const,
              },
            ]
          : []),
      ],
      data: { settleMs: SETTLE_MS, usage, host },
    };
  },
};
