// How long a user waits from `create` until the first command has run: createSandbox through the
// SDK, then exec('true') until its exit frame arrives. gVisor is measured against runc, the same
// bundle on the host kernel, in the same run.
import type { Runtime } from '@burrow/sdk';
import { log, type BenchContext, type Benchmark, type Figure } from './context.js';
import { formatMs, median, summarize } from './stats.js';

const SAMPLES = 10;
const GOAL_MS = 500;

interface Samples {
  total: number[];
  create: number[];
  exec: number[];
}

async function measure(ctx: BenchContext, runtime: Runtime): Promise<Samples> {
  const client = await ctx.client();
  const samples: Samples = { total: [], create: [], exec: [] };
  for (let i = 0; i < SAMPLES; i++) {
    const name = ctx.sandboxName(`cfe-${runtime}-${i}`);
    const t0 = performance.now();
    const sandbox = await client.createSandbox(name, { runtime });
    try {
      const t1 = performance.now();
      const r = await sandbox.exec('true');
      const t2 = performance.now();
      if (r.exitCode !== 0) throw new Error(`exec true in ${name} exited ${r.exitCode}: ${r.stderr}`);
      samples.total.push(t2 - t0);
      samples.create.push(t1 - t0);
      samples.exec.push(t2 - t1);
    } finally {
      // Destroying is not part of the figure.
      await sandbox.delete();
    }
  }
  log(`${runtime}: create ${formatMs(median(samples.create))} + first exec ${formatMs(median(samples.exec))} (medians of ${SAMPLES})`);
  return samples;
}

function figure(runtime: Runtime, s: Samples, baseline?: { label: string; value: number }): Figure {
  const total = summarize(s.total);
  return {
    label: `create -> first exec true (${runtime})`,
    value: total.median,
    unit: 'ms',
    detail: `p90 ${formatMs(total.p90)}; create ${formatMs(median(s.create))} + exec ${formatMs(median(s.exec))}; n=${total.n}`,
    ...(baseline ? { baseline, compare: 'ratio' as const } : {}),
    goal: { text: `< ${GOAL_MS} ms`, met: total.median < GOAL_MS },
  };
}

export const createFirstExec: Benchmark = {
  name: 'create-first-exec',
  description: `create a sandbox through the SDK, then exec('true'): median of ${SAMPLES}, each destroyed afterwards`,
  async run(ctx) {
    const gvisor = await measure(ctx, 'gvisor');
    const runc = await measure(ctx, 'runc');
    return {
      figures: [
        figure('gvisor', gvisor, { label: 'same, runc', value: median(runc.total) }),
        figure('runc', runc),
      ],
      data: { samplesMs: { gvisor, runc } },
    };
  },
};
