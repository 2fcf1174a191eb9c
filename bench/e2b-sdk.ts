// What the E2B adapter costs: the same work through the unmodified `e2b` SDK and through
// burrow's own SDK, against one daemon in the same run. `commands.run('true')` against
// `exec('true')` on one sandbox, interleaved round by round; `Sandbox.create` to the first
// command against `createSandbox` + `exec`, both on the dev image.
import { Sandbox as E2bSandbox } from 'e2b';
import { log, timed, type Benchmark, type Figure } from './context.js';
import { formatMs, median, summarize } from './stats.js';

const SAMPLES = 30;
const WARMUP = 3;
const CREATES = 5;
const GOAL_OVERHEAD = 0.1;

function figure(label: string, e2b: number[], burrow: number[], baselineLabel: string): Figure {
  const sum = summarize(e2b);
  const base = median(burrow);
  return {
    label,
    value: sum.median,
    unit: 'ms',
    detail: `p90 ${formatMs(sum.p90)}; n=${sum.n}`,
    baseline: { label: baselineLabel, value: base },
    compare: 'overhead',
    goal: { text: `overhead < ${GOAL_OVERHEAD * 100}%`, met: sum.median / base - 1 < GOAL_OVERHEAD },
  };
}

export const e2bSdk: Benchmark = {
  name: 'e2b-sdk',
  description: `the e2b SDK vs burrow's SDK: commands.run('true') round trip (median of ${SAMPLES}) and create -> first command (median of ${CREATES})`,
  async run(ctx) {
    const burrow = await ctx.burrow();
    const client = await ctx.client();
    const conn = { apiUrl: burrow.url, sandboxUrl: burrow.url, apiKey: burrow.token };

    const roundTrip = { e2b: [] as number[], burrow: [] as number[] };
    const e2bBox = await E2bSandbox.create('dev', conn);
    try {
      const own = client.sandbox(e2bBox.sandboxId);
      for (let round = 0; round < WARMUP + SAMPLES; round++) {
        const viaE2b = await timed(() => e2bBox.commands.run('true'));
        const viaBurrow = await timed(() => own.exec('/bin/bash', ['-l', '-c', 'true']));
        if (viaE2b.result.exitCode !== 0 || viaBurrow.result.exitCode !== 0) throw new Error('true failed');
        if (round >= WARMUP) {
          roundTrip.e2b.push(viaE2b.ms);
          roundTrip.burrow.push(viaBurrow.ms);
        }
      }
    } finally {
      await e2bBox.kill().catch(() => {});
    }
    log(`commands.run('true'): e2b SDK ${formatMs(median(roundTrip.e2b))}, burrow SDK ${formatMs(median(roundTrip.burrow))}`);

    const create = { e2b: [] as number[], burrow: [] as number[] };
    for (let i = 0; i < CREATES; i++) {
      const viaE2b = await timed(async () => {
        const box = await E2bSandbox.create('dev', conn);
        await box.commands.run('true');
        return box;
      });
      await viaE2b.result.kill();
      const name = ctx.sandboxName(`e2b-${i}`);
      const viaBurrow = await timed(async () => {
        const box = await client.createSandbox(name);
        await box.exec('/bin/bash', ['-l', '-c', 'true']);
        return box;
      });
      await viaBurrow.result.delete();
      create.e2b.push(viaE2b.ms);
      create.burrow.push(viaBurrow.ms);
    }
    log(`create -> first command: e2b SDK ${formatMs(median(create.e2b))}, burrow SDK ${formatMs(median(create.burrow))}`);

    return {
      figures: [
        figure("commands.run('true'), e2b SDK", roundTrip.e2b, roundTrip.burrow, "exec('true'), burrow SDK"),
        figure('Sandbox.create -> first command, e2b SDK', create.e2b, create.burrow, 'createSandbox -> first exec, burrow SDK'),
      ],
      data: { roundTripMs: roundTrip, createMs: create, warmupRounds: WARMUP },
    };
  },
};
