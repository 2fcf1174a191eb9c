// What the filesystem API costs for bulk data: 100 MiB uploaded and downloaded through the SDK
// (`sandbox.fs.writeFile` / `readStream`: HTTP to the daemon, then the fs tool in the sandbox)
// against the same bytes piped through a bare `runsc exec cat` of the same container. Rounds
// interleave the two ways, so drift on a busy machine affects both alike. The daemon's peak RSS
// during the API transfers shows that nothing is buffered whole.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Sandbox } from '@burrow/sdk';
import { peakRss } from '../test/support/memory.js';
import type { BurrowInstance } from '../test/support/instance.js';
import { log, timed, type Benchmark, type Figure } from './context.js';
import { formatMs, median, summarize } from './stats.js';

const MIB = 2 ** 20;
const SIZE_MIB = 100;
const ROUNDS = 5;
const WARMUP = 1;
const FILE = '/home/user/fs-transfer.bin';
const RAW_FILE = '/home/user/fs-transfer-raw.bin';

/** 100 MiB of 1 MiB blocks that all differ, generated once and replayed for every transfer. */
function blocks(seed: Buffer): Buffer[] {
  return Array.from({ length: SIZE_MIB }, (_, i) => {
    const block = Buffer.from(seed);
    block.writeUInt32BE(i, 0);
    return block;
  });
}

/** A sink that counts what it is given, as a client that consumes the bytes would. */
function counter(): { sink: Writable; bytes: () => number } {
  let total = 0;
  const sink = new Writable({
    highWaterMark: MIB,
    write(chunk: Buffer, _encoding, callback) {
      total += chunk.length;
      callback();
    },
  });
  return { sink, bytes: () => total };
}

/** `runsc exec` as the sandbox user, the way burrow's runtime driver calls it (pipes for stdio). */
function runsc(burrow: BurrowInstance, containerId: string, argv: string[]) {
  const args = ['--root', join(burrow.home, 'run', 'gvisor'), '--platform=ptrace', '--network=host', 'exec', '--user', '1000:1000', containerId, ...argv];
  return spawn('runsc', args, { stdio: ['pipe', 'pipe', 'pipe'] });
}

async function finished(child: ReturnType<typeof runsc>, what: string): Promise<void> {
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`${what} exited ${code}: ${stderr.trim()}`);
}

type Way = 'apiUp' | 'rawUp' | 'apiDown' | 'rawDown';

export const fsTransfer: Benchmark = {
  name: 'fs-transfer',
  description: `${SIZE_MIB} MiB upload and download through the fs API (SDK) vs the same bytes through raw \`runsc exec cat\`: median of ${ROUNDS}`,
  async run(ctx) {
    const burrow = await ctx.burrow();
    return ctx.withSandbox('fs', { runtime: 'gvisor' }, async (sandbox: Sandbox) => {
      const sandboxId = sandbox.info?.id;
      if (!sandboxId) throw new Error(`the create reply for ${sandbox.name} carries no id`);
      const containerId = burrow.containerOf(sandboxId);
      const data = blocks(randomBytes(MIB));
      const bytes = SIZE_MIB * MIB;
      const samples: Record<Way, number[]> = { apiUp: [], rawUp: [], apiDown: [], rawDown: [] };
      let peak = 0;

      const ways: Record<Way, () => Promise<void>> = {
        apiUp: async () => {
          const { peak: p } = await peakRss(burrow.pid, () => sandbox.fs.writeFile(FILE, Readable.from(data)));
          peak = Math.max(peak, p);
        },
        rawUp: async () => {
          const child = runsc(burrow, containerId, ['sh', '-c', `cat > ${RAW_FILE}`]);
          child.stdout.resume();
          const done = finished(child, 'runsc exec cat (upload)');
          await pipeline(Readable.from(data), child.stdin);
          await done;
        },
        apiDown: async () => {
          const { sink, bytes: got } = counter();
          const { peak: p } = await peakRss(burrow.pid, () => pipeline(sandbox.fs.readStream(FILE), sink));
          peak = Math.max(peak, p);
          if (got() !== bytes) throw new Error(`fs read returned ${got()} bytes, expected ${bytes}`);
        },
        rawDown: async () => {
          const child = runsc(burrow, containerId, ['cat', RAW_FILE]);
          child.stdin.end();
          const { sink, bytes: got } = counter();
          const done = finished(child, 'runsc exec cat (download)');
          await pipeline(child.stdout, sink);
          await done;
          if (got() !== bytes) throw new Error(`runsc exec cat returned ${got()} bytes, expected ${bytes}`);
        },
      };

      for (let round = 0; round < WARMUP + ROUNDS; round++) {
        for (const way of ['apiUp', 'rawUp', 'apiDown', 'rawDown'] as const) {
          const { ms } = await timed(ways[way]);
          if (round >= WARMUP) samples[way].push(ms);
        }
      }
      const check = await sandbox.exec('sh', ['-c', `cmp ${FILE} ${RAW_FILE} && rm -f ${FILE} ${RAW_FILE}`]);
      if (check.exitCode !== 0) throw new Error(`the API and raw copies differ: ${check.stdout}${check.stderr}`);

      const rate = (ms: number) => `${((bytes / MIB) / (ms / 1000)).toFixed(0)} MiB/s`;
      log(`upload: fs API ${formatMs(median(samples.apiUp))} (${rate(median(samples.apiUp))}), raw ${formatMs(median(samples.rawUp))} (${rate(median(samples.rawUp))})`);
      log(`download: fs API ${formatMs(median(samples.apiDown))} (${rate(median(samples.apiDown))}), raw ${formatMs(median(samples.rawDown))} (${rate(median(samples.rawDown))})`);

      const figure = (label: string, api: number[], raw: number[]): Figure => {
        const s = summarize(api);
        return {
          label: `${SIZE_MIB} MiB ${label}, fs API via SDK (gvisor)`,
          value: s.median,
          unit: 'ms',
          detail: `${rate(s.median)}; p90 ${formatMs(s.p90)}; n=${s.n}`,
          baseline: { label: `runsc exec cat (${rate(median(raw))})`, value: median(raw) },
          compare: 'ratio',
        };
      };
      return {
        figures: [
          figure('upload', samples.apiUp, samples.rawUp),
          figure('download', samples.apiDown, samples.rawDown),
          { label: 'daemon peak RSS during fs API transfers', value: peak, unit: 'bytes', detail: `${SIZE_MIB} MiB streamed each way` },
        ],
        data: { samplesMs: samples, bytes, peakRssBytes: peak, warmupRounds: WARMUP },
      };
    });
  },
};
