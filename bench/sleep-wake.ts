// Idle sleep: how long a user waits when a command wakes a warm (frozen) or cold (stopped)
// sandbox, until the command's first output arrives, against the same command on a sandbox that
// is already running; and what sleeping sandboxes cost the host: 100 cold ones against the
// daemon alone, 20 warm ones against the same 20 running.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BurrowClient, Sandbox } from '@burrow/sdk';
import type { BurrowInstance } from '../test/support/instance.js';
import { log, type BenchContext, type Benchmark, type Figure } from './context.js';
import { formatBytes, formatMs, median, summarize } from './stats.js';

const SAMPLES = 10;
const COLD_COUNT = 100;
const WARM_COUNT = 20;
const PARALLEL = 4;
const SETTLE_MS = 3000;
const NEVER = { sleep: { warm_after: 'off', cold_after: 'off' } } as const;

/** Milliseconds from the call until the first byte of `echo hi`'s output. */
async function firstOutput(sandbox: Sandbox): Promise<number> {
  const t0 = performance.now();
  const proc = sandbox.spawn('echo', ['hi'], { stdin: false });
  const ms = await new Promise<number>((resolve, reject) => {
    proc.stdout.once('data', () => resolve(performance.now() - t0));
    proc.once('error', reject);
  });
  await proc.wait();
  return ms;
}

async function wakeSamples(sandbox: Sandbox, cold: boolean): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    await sandbox.sleep({ cold });
    if (cold) await sleep(1500); // the old container dies in the background: not part of the wake
    samples.push(await firstOutput(sandbox));
  }
  return samples;
}

function kib(text: string, field: string): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** PSS of every host process of this instance's sandboxes (runsc's and their ptrace stubs). */
function sandboxesPss(burrow: BurrowInstance): number {
  const procs = readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map((e) => ({ pid: Number(e), ppid: Number(/^\d+ \(.*\) \S+ (\d+)/s.exec(read(`/proc/${e}/stat`))?.[1] ?? 0), cmd: read(`/proc/${e}/cmdline`) }));
  const found = new Set(procs.filter((p) => p.cmd.includes(`${burrow.home}/run/`)).map((p) => p.pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) {
      if (!found.has(p.pid) && found.has(p.ppid)) {
        found.add(p.pid);
        grew = true;
      }
    }
  }
  return [...found].reduce((sum, pid) => sum + kib(read(`/proc/${pid}/smaps_rollup`), 'Pss'), 0);
}

const daemonRss = (burrow: BurrowInstance) => kib(read(`/proc/${burrow.pid}/status`), 'VmRSS');

async function inBatches<T>(items: T[], work: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += PARALLEL) await Promise.all(items.slice(i, i + PARALLEL).map(work));
}

async function memory(ctx: BenchContext, client: BurrowClient) {
  const burrow = await ctx.burrow();
  const baseline = { daemon: daemonRss(burrow), sandboxes: sandboxesPss(burrow) };
  const cold = Array.from({ length: COLD_COUNT }, (_, i) => ctx.sandboxName(`cold-${i}`));
  const warm = Array.from({ length: WARM_COUNT }, (_, i) => ctx.sandboxName(`warm-${i}`));
  try {
    await inBatches(cold, async (n) => {
      await client.createSandbox(n, NEVER);
      await client.sandbox(n).sleep({ cold: true });
    });
    await sleep(SETTLE_MS);
    const cold100 = { daemon: daemonRss(burrow), sandboxes: sandboxesPss(burrow) };
    log(`${COLD_COUNT} cold: sandbox processes ${formatBytes(cold100.sandboxes)}, daemon RSS ${formatBytes(cold100.daemon)} (alone: ${formatBytes(baseline.daemon)})`);
    await inBatches(warm, (n) => client.createSandbox(n, NEVER));
    await sleep(SETTLE_MS);
    const running20 = sandboxesPss(burrow);
    await inBatches(warm, (n) => client.sandbox(n).sleep());
    await sleep(SETTLE_MS);
    const warm20 = sandboxesPss(burrow);
    log(`${WARM_COUNT} running: ${formatBytes(running20)}; the same warm: ${formatBytes(warm20)}`);
    return { baseline, cold100, running20, warm20 };
  } finally {
    await inBatches([...cold, ...warm], (n) => client.sandbox(n).delete().catch(() => undefined));
  }
}

export const sleepWake: Benchmark = {
  name: 'sleep-wake',
  description: `warm and cold wake -> first exec output (medians of ${SAMPLES}); host memory of ${COLD_COUNT} cold and ${WARM_COUNT} warm sandboxes`,
  async run(ctx) {
    const client = await ctx.client();
    const times = await ctx.withSandbox('wake', NEVER, async (sandbox) => {
      const running: number[] = [];
      for (let i = 0; i < SAMPLES; i++) running.push(await firstOutput(sandbox));
      return { running, warm: await wakeSamples(sandbox, false), cold: await wakeSamples(sandbox, true) };
    });
    const mem = await memory(ctx, client);
    const running = { label: 'exec on a running sandbox', value: median(times.running) };
    const wake = (what: 'warm' | 'cold', goalMs: number): Figure => {
      const s = summarize(times[what]);
      return {
        label: `${what} wake -> first exec output (gvisor)`,
        value: s.median,
        unit: 'ms',
        detail: `p90 ${formatMs(s.p90)}; min ${formatMs(s.min)}; n=${s.n}`,
        baseline: running,
        compare: 'ratio',
        goal: { text: `< ${goalMs} ms`, met: s.median < goalMs },
      };
    };
    const coldCost = mem.cold100.sandboxes + Math.max(0, mem.cold100.daemon - mem.baseline.daemon);
    return {
      figures: [
        wake('warm', 50),
        wake('cold', 1000),
        {
          label: `host memory of ${COLD_COUNT} cold sandboxes (their processes + daemon growth)`,
          value: coldCost,
          unit: 'bytes',
          detail: `sandbox processes ${formatBytes(mem.cold100.sandboxes)}; daemon RSS ${formatBytes(mem.cold100.daemon)}`,
          baseline: { label: 'daemon RSS alone', value: mem.baseline.daemon },
          compare: 'ratio',
          goal: { text: 'nothing beyond the daemon', met: mem.cold100.sandboxes === 0 },
        },
        {
          label: `host memory (PSS) of ${WARM_COUNT} warm sandboxes`,
          value: mem.warm20,
          unit: 'bytes',
          detail: `${formatBytes(mem.warm20 / WARM_COUNT)} each`,
          baseline: { label: `the same ${WARM_COUNT} running`, value: mem.running20 },
          compare: 'ratio',
        },
      ],
      data: { samplesMs: times, memory: mem },
    };
  },
};
