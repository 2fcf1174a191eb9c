// How well one sandbox's runaway is contained: a neighbour's `exec echo ok` (runc, through the
// SDK) while another sandbox runs a fork bomb, a CPU spinner on every core, or a memory hog,
// against the same neighbour's latency with nothing running, measured right before each attack
// (so that load from elsewhere on the machine weighs on both alike). Each attack runs in a
// fresh sandbox of each runtime and is ended (kill, or restart for a gVisor sandbox whose
// runtime the bomb took down) before the next one starts.
import type { Runtime, Sandbox } from '@burrow/sdk';
import { log, timed, type BenchContext, type Benchmark, type Figure } from './context.js';
import { formatMs, median } from './stats.js';

const SAMPLES = 10;
/** What the attack is given to get going before the neighbour is measured. */
const SETTLE_MS = 10_000;
const GOAL_RATIO = 3;

const ATTACKS = [
  // Every process forks in a loop, so the bomb never dies out at the limit.
  { label: 'fork bomb', script: 'b() { while :; do b & done; }; b >/dev/null 2>&1 &', config: { pids_limit: 1024 } },
  { label: 'CPU spinner on every core', script: 'for i in $(seq $(nproc)); do (while :; do :; done) >/dev/null 2>&1 & done', config: {} },
  // tail keeps the last 4 GiB it read in memory: its sandbox's limit is 512 MB.
  { label: 'memory hog', script: '(while :; do head -c 4G /dev/zero | tail -c 4294967296 >/dev/null; done) >/dev/null 2>&1 &', config: { ram_mb: 512 } },
] as const;

async function latencies(neighbour: Sandbox): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const { ms, result } = await timed(() => neighbour.exec('echo', ['ok']));
    if (result.stdout !== 'ok\n') throw new Error(`the neighbour answered ${JSON.stringify(result)}`);
    samples.push(ms);
  }
  return samples;
}

async function underAttack(ctx: BenchContext, neighbour: Sandbox, runtime: Runtime, attack: (typeof ATTACKS)[number]): Promise<number[]> {
  return ctx.withSandbox(`attack-${runtime}`, { runtime, config: attack.config }, async (box) => {
    await box.exec('bash', ['-c', attack.script]);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const samples = await latencies(neighbour);
    const refreshed = await box.refresh();
    log(`${attack.label} (${runtime}): neighbour ${formatMs(median(samples))}; the attacked sandbox is ${refreshed.status}${refreshed.condition ? ` (${refreshed.condition})` : ''}`);
    await box.killProcesses().catch(() => box.restart());
    return samples;
  });
}

export const containment: Benchmark = {
  name: 'containment',
  description: `a neighbour's exec echo ok (median of ${SAMPLES}) while another sandbox runs a fork bomb, a spinner on every core or a memory hog, gvisor and runc, vs quiet`,
  async run(ctx) {
    return ctx.withSandbox('neighbour', { runtime: 'runc' }, async (neighbour) => {
      await latencies(neighbour); // warm-up
      const figures: Figure[] = [];
      const data: Record<string, { quiet: number[]; attacked: number[] }> = {};
      for (const runtime of ['runc', 'gvisor'] as const) {
        for (const attack of ATTACKS) {
          const quiet = await latencies(neighbour);
          const samples = await underAttack(ctx, neighbour, runtime, attack);
          data[`${attack.label} (${runtime})`] = { quiet, attacked: samples };
          const value = median(samples);
          figures.push({
            label: `neighbour exec during a ${attack.label} (${runtime})`,
            value,
            unit: 'ms',
            detail: `max ${formatMs(Math.max(...samples))}`,
            baseline: { label: 'quiet', value: median(quiet) },
            compare: 'ratio',
            goal: { text: `within x${GOAL_RATIO} of quiet`, met: value <= GOAL_RATIO * median(quiet) },
          });
        }
      }
      return { figures, data: { samplesMs: data } };
    });
  },
};
