// What exporting a sandbox as an OCI image costs: 100 MiB of changes (1 GiB too with
// BURROW_BENCH_EXPORT_GIB=1) exported through the SDK (`sandbox.export()` of a checkpoint: the
// changes layer packed twice, once to measure it and once to send it, the cached base layer
// streamed from the cache) against `tar -c` of the same checkpoint's upper directory in the same
// run. Rounds interleave the two, so drift on a busy machine affects both alike. Then the base
// layer: what the first export of an image pays to build it, and what a second sandbox of the
// same image pays when it comes from the cache.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Sandbox } from '@burrow/sdk';
import type { BurrowInstance } from '../test/support/instance.js';
import { log, timed, type Benchmark, type Figure } from './context.js';
import { formatBytes, formatMs, median } from './stats.js';

const MIB = 2 ** 20;
const ROUNDS = 3;

async function sh(sandbox: Sandbox, script: string): Promise<void> {
  const r = await sandbox.exec('sh', ['-c', script]);
  if (r.exitCode !== 0) throw new Error(`'${script}' exited ${r.exitCode}: ${r.stderr}`);
}

/** Bytes of an export of `checkpoint`, read to the end as a client saving it would. */
async function exportBytes(sandbox: Sandbox, checkpoint?: string): Promise<{ bytes: number; cached: boolean }> {
  const exported = await sandbox.export({ checkpoint });
  let bytes = 0;
  for await (const chunk of exported.stream) bytes += (chunk as Buffer).length;
  return { bytes, cached: exported.baseLayerCached };
}

/** `tar -c` of a directory into nothing but a byte count: the baseline. */
function tarBytes(dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', ['-c', '--numeric-owner', '--xattrs', '-f', '-', '-C', dir, '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (bytes += b.length));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(bytes) : reject(new Error(`tar exited ${code}: ${stderr}`))));
  });
}

async function upperOf(burrow: BurrowInstance, sandbox: Sandbox, checkpoint: string): Promise<string> {
  const { body } = await burrow.call('GET', `/v1/sprites/${sandbox.name}`);
  return join(burrow.config.pool.mountpoint, 'checkpoints', String(body.id), checkpoint, 'upper');
}

export const exportImage: Benchmark = {
  name: 'export',
  description: 'sandbox -> OCI image: 100 MiB of changes vs tar of the same directory; base layer built vs from the cache',
  async run(ctx) {
    const burrow = await ctx.burrow();
    const sizes = process.env.BURROW_BENCH_EXPORT_GIB === '1' ? [100, 1024] : [100];
    const figures: Figure[] = [];
    const data: Record<string, unknown> = {};
    await ctx.withSandbox('export', { runtime: 'runc' }, async (sandbox) => {
      // The image's first export builds its base layer; the runs below measure the cached case.
      const first = await timed(() => exportBytes(sandbox));
      log(`first export (base layer ${first.result.cached ? 'already cached by another run' : 'built'}): ${formatMs(first.ms)}, ${formatBytes(first.result.bytes)}`);
      for (const mib of sizes) {
        // Files of 1 MiB of random bytes (incompressible, and gzip is not what is measured).
        await sh(sandbox, `rm -rf ~/changes && mkdir ~/changes && for i in $(seq 1 ${mib}); do head -c ${MIB} /dev/urandom > ~/changes/f$i; done`);
        const checkpoint = (await sandbox.createCheckpoint(`export bench ${mib} MiB`)).id;
        const upper = await upperOf(burrow, sandbox, checkpoint);
        const exportMs: number[] = [];
        const tarMs: number[] = [];
        let exported = 0;
        let tarred = 0;
        for (let round = 0; round < ROUNDS; round++) {
          const e = await timed(() => exportBytes(sandbox, checkpoint));
          exportMs.push(e.ms);
          exported = e.result.bytes;
          const t = await timed(() => tarBytes(upper));
          tarMs.push(t.ms);
          tarred = t.result;
        }
        const rate = (bytes: number, ms: number) => `${formatBytes((bytes / ms) * 1000)}/s`;
        log(`${mib} MiB: export ${formatMs(median(exportMs))} (${rate(mib * MIB, median(exportMs))} of changes; archive ${formatBytes(exported)}), tar ${formatMs(median(tarMs))} (${formatBytes(tarred)})`);
        data[`${mib}MiB`] = { exportMs, tarMs, exportedBytes: exported, tarBytes: tarred };
        figures.push({
          label: `export of ${mib} MiB of changes (checkpoint, cached base layer)`,
          value: median(exportMs),
          unit: 'ms',
          detail: `${ROUNDS} rounds; ${rate(mib * MIB, median(exportMs))}`,
          baseline: { label: 'tar -c of the same upper directory', value: median(tarMs) },
          compare: 'ratio',
        });
      }
      data.firstExport = { ms: first.ms, bytes: first.result.bytes, baseLayerCached: first.result.cached };
    });
    await ctx.withSandbox('export-2', { runtime: 'runc' }, async (other) => {
      const second = await timed(() => exportBytes(other));
      log(`second sandbox of the image: export ${formatMs(second.ms)}, base layer ${second.result.cached ? 'from the cache' : 'BUILT AGAIN'}`);
      data.secondSandbox = { ms: second.ms, baseLayerCached: second.result.cached };
      const firstMs = (data.firstExport as { ms: number }).ms;
      figures.push({
        label: `export of a second sandbox of the image (base layer ${second.result.cached ? 'cache hit' : 'cache MISS'})`,
        value: second.ms,
        unit: 'ms',
        baseline: { label: 'first export of the image (base layer built unless cached before)', value: firstMs },
        compare: 'ratio',
      });
    });
    return { figures, data };
  },
};
