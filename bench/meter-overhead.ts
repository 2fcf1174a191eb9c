// What per-second metering costs: `exec true` and create+first exec on a daemon that meters,
// against a second daemon started with BURROW_METER=off, in the same run, with the same number
// of idle sandboxes running on each (the meter reads every live sandbox's cgroup each second).
// Samples alternate between the two daemons, so drift on a busy machine affects both alike.
import type { BurrowClient, Sandbox } from '@burrow/sdk';
import { BurrowInstance } from '../test/support/instance.js';
import { log, timed, type Benchmark } from './context.js';
import { formatMs, median, summarize } from './stats.js';

const IDLE_SANDBOXES = 8;
const EXEC_SAMPLES = 40;
const CREATE_SAMPLES = 6;

async function exec(sandbox: Sandbox): Promise<void> {
  const r = await sandbox.exec('true');
  if (r.exitCode !== 0) throw new Error(`exec true in ${sandbox.name} exited ${r.exitCode}`);
}

export const meterOverhead: Benchmark = {
  name: 'meter-overhead',
  description: `exec true and create -> first exec with metering on vs off (two daemons, ${IDLE_SANDBOXES} idle sandboxes each)`,
  async run(ctx) {
    const on = await ctx.client();
    const offInstance = await BurrowInstance.create({ BURROW_METER: 'off', BURROW_RUNSC_PLATFORM: 'ptrace' });
    try {
      await offInstance.start();
      const off = offInstance.client();
      const clients: Record<'on' | 'off', BurrowClient> = { on, off };
      const idle: Record<'on' | 'off', Sandbox[]> = { on: [], off: [] };
      for (const side of ['on', 'off'] as const) {
        for (let i = 0; i < IDLE_SANDBOXES; i++) {
          idle[side].push(await clients[side].createSandbox(ctx.sandboxName(`mo-${side}-${i}`), { runtime: 'runc' }));
        }
      }
      const target = { on: idle.on[0]!, off: idle.off[0]! };
      const execMs: Record<'on' | 'off', number[]> = { on: [], off: [] };
      for (let i = 0; i < 3; i++) for (const side of ['on', 'off'] as const) await exec(target[side]);
      for (let i = 0; i < EXEC_SAMPLES; i++) {
        for (const side of i % 2 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
          execMs[side].push((await timed(() => exec(target[side]))).ms);
        }
      }
      const createMs: Record<'on' | 'off', number[]> = { on: [], off: [] };
      for (let i = 0; i < CREATE_SAMPLES; i++) {
        for (const side of i % 2 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
          const { ms } = await timed(async () => {
            const sandbox = await clients[side].createSandbox(ctx.sandboxName(`mo-c-${side}-${i}`));
            await exec(sandbox);
            return sandbox;
          }).then(async ({ ms, result }) => {
            await result.delete();
            return { ms };
          });
          createMs[side].push(ms);
        }
      }
      const metrics = await on.metrics();
      const tickSum = Number(/^burrow_meter_tick_duration_seconds_sum (\S+)$/m.exec(metrics)?.[1] ?? NaN);
      const tickCount = Number(/^burrow_meter_tick_duration_seconds_count (\S+)$/m.exec(metrics)?.[1] ?? NaN);
      const tickMs = (tickSum / tickCount) * 1000;
      log(`exec true: ${formatMs(median(execMs.on))} metered, ${formatMs(median(execMs.off))} not`);
      log(`create -> first exec: ${formatMs(median(createMs.on))} metered, ${formatMs(median(createMs.off))} not`);
      log(`one metering pass over ${IDLE_SANDBOXES + 1}-${IDLE_SANDBOXES + 2} sandboxes: ${formatMs(tickMs)} on average (${tickCount} passes)`);
      for (const side of ['on', 'off'] as const) for (const s of idle[side]) await s.delete();
      const e = { on: summarize(execMs.on), off: summarize(execMs.off) };
      const c = { on: summarize(createMs.on), off: summarize(createMs.off) };
      return {
        figures: [
          {
            label: 'exec true (runc), metering on',
            value: e.on.median,
            unit: 'ms',
            detail: `p90 ${formatMs(e.on.p90)}; n=${e.on.n}`,
            baseline: { label: 'metering off', value: e.off.median },
            compare: 'overhead',
          },
          {
            label: 'create -> first exec (gvisor), metering on',
            value: c.on.median,
            unit: 'ms',
            detail: `p90 ${formatMs(c.on.p90)}; n=${c.on.n}`,
            baseline: { label: 'metering off', value: c.off.median },
            compare: 'overhead',
          },
          {
            label: `one metering pass (${IDLE_SANDBOXES}+ live sandboxes)`,
            value: tickMs,
            unit: 'ms',
            detail: `mean of ${tickCount} passes, once a second`,
          },
        ],
        data: { execMs, createMs, tickMs },
      };
    } finally {
      await offInstance.destroy();
    }
  },
};
