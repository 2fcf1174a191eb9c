// Keystroke echo latency through a console: send one byte to a TTY session running `cat` and
// time until the terminal echoes it back, against the same round trip through a bare
// `runsc exec cat` of the same container with pipes (its floor: no WebSocket, no agent, no pty).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { log, type BenchContext, type Benchmark, type Figure } from './context.js';
import { formatMs, median, summarize } from './stats.js';

const SAMPLES = 200;
const WARMUP = 10;

/** Writes one byte at a time and times until that byte comes back on `output`. */
async function echoRoundTrips(input: Writable, output: Readable, samples: number): Promise<number[]> {
  const times: number[] = [];
  let pending: { byte: number; resolve: () => void } | undefined;
  output.on('data', (chunk: Buffer) => {
    if (pending && chunk.includes(pending.byte)) {
      const p = pending;
      pending = undefined;
      p.resolve();
    }
  });
  for (let i = 0; i < samples; i++) {
    const byte = 0x61 + (i % 26);
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      pending = { byte, resolve };
      input.write(Buffer.of(byte));
    });
    times.push(performance.now() - t0);
  }
  return times;
}

export const ttyEcho: Benchmark = {
  name: 'tty-echo',
  description: 'keystroke echo latency through a TTY session vs a raw runsc exec cat',
  async run(ctx: BenchContext) {
    const burrow = await ctx.burrow();
    return ctx.withSandbox('tty', {}, async (sandbox) => {
      const session = sandbox.spawn('cat', [], { tty: { rows: 24, cols: 80 } });
      await session.waitForSession();
      const viaBurrow = (await echoRoundTrips(session.stdin, session.stdout, WARMUP + SAMPLES)).slice(WARMUP);
      session.kill('SIGKILL');
      await session.wait().catch(() => {});

      const raw = spawn(
        'runsc',
        ['--root', join(burrow.home, 'run', 'gvisor'), '--platform=ptrace', '--network=host', 'exec', '--user', '1000:1000', burrow.containerOf(sandbox.info!.id), 'cat'],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      const viaRunsc = (await echoRoundTrips(raw.stdin, raw.stdout, WARMUP + SAMPLES)).slice(WARMUP);
      raw.stdin.end();
      await new Promise((r) => raw.once('close', r));

      const ours = summarize(viaBurrow);
      const floor = median(viaRunsc);
      log(`echo: TTY session ${formatMs(ours.median)} (p90 ${formatMs(ours.p90)}), raw runsc exec cat ${formatMs(floor)}`);
      const figures: Figure[] = [
        {
          label: 'keystroke echo, TTY session over the API (gvisor)',
          value: ours.median,
          unit: 'ms',
          detail: `p90 ${formatMs(ours.p90)}, n=${SAMPLES}`,
          baseline: { label: 'raw runsc exec cat, pipes', value: floor },
          compare: 'ratio',
        },
      ];
      return { figures, data: { viaBurrow, viaRunsc } };
    });
  },
};
