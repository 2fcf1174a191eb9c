// Checkpoint create and restore latency with 10 MB, 1 GB and 4 GB written into a gVisor sandbox,
// against the naive way of keeping a copy of a sandbox's disk: `cp -a --reflink=never` of its
// upper layer into a directory on the same pool, in the same run. Create is timed from the POST
// until its `complete` line (the checkpoint is durable then); restore until `complete` (the
// sandbox runs again). The restore's disk swap alone is read from its `info` line.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { CheckpointEvent, Sandbox } from '@burrow/sdk';
import { log, type BenchContext, type Benchmark, type Figure } from './context.js';
import { runOnHostOk } from './spawn.js';
import { formatMs, median, summarize } from './stats.js';

const SIZES = [
  { label: '10 MB', mb: 10 },
  { label: '1 GB', mb: 1024 },
  { label: '4 GB', mb: 4096 },
];
const SAMPLES = 5;
const CREATE_GOAL_MS = 100;
const RESTORE_GOAL_MS = 500;
/** Medians within this factor of the smallest size's count as flat. */
const FLAT_FACTOR = 1.5;

interface SizeResult {
  label: string;
  create: number[];
  restore: number[];
  /** The part of restore that is the disk swap (rename + snapshot), from the server's info line. */
  swap: number[];
  /** The part of create the sandbox is frozen, from the server's info line. */
  frozen: number[];
  copyMs: number;
}

/** POSTs and reads the NDJSON stream until it ends; returns ms until `complete` and the events. */
async function streamed(ctx: BenchContext, path: string, body?: object): Promise<{ ms: number; events: CheckpointEvent[] }> {
  const burrow = await ctx.burrow();
  const t0 = performance.now();
  const response = await fetch(`${burrow.url}${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${burrow.token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  const ms = performance.now() - t0;
  const events = text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as CheckpointEvent);
  if (response.status !== 200 || events.at(-1)?.type !== 'complete') throw new Error(`${path} failed (${response.status}): ${text.slice(-500)}`);
  return { ms, events };
}

function infoMs(events: CheckpointEvent[], pattern: RegExp): number {
  for (const e of events) {
    const m = e.type === 'info' ? pattern.exec(e.data) : null;
    if (m) return Number(m[1]);
  }
  return Number.NaN;
}

async function measureSize(ctx: BenchContext, sandbox: Sandbox, label: string, mb: number): Promise<SizeResult> {
  const path = `/v1/sprites/${sandbox.name}`;
  const write = await sandbox.exec('sh', ['-c', `dd if=/dev/zero of=$HOME/data-${mb} bs=1M count=${mb} status=none conv=fsync`]);
  if (write.exitCode !== 0) throw new Error(`writing ${label} failed: ${write.stderr}`);
  const result: SizeResult = { label, create: [], restore: [], swap: [], frozen: [], copyMs: Number.NaN };
  let last = '';
  for (let i = 0; i < SAMPLES; i++) {
    const { ms, events } = await streamed(ctx, `${path}/checkpoint`, { comment: `bench ${label} ${i}` });
    result.create.push(ms);
    result.frozen.push(infoMs(events, /frozen for (\d+) ms/));
    last = /Checkpoint (\S+) created/.exec(events.at(-1)?.type === 'complete' ? (events.at(-1) as { data: string }).data : '')?.[1] ?? '';
  }
  for (let i = 0; i < SAMPLES; i++) {
    const { ms, events } = await streamed(ctx, `${path}/checkpoints/${last}/restore`);
    result.restore.push(ms);
    result.swap.push(infoMs(events, /disk swapped to \S+ in (\d+) ms/));
  }
  // The baseline: a plain full copy of everything the sandbox wrote, on the same filesystem.
  const burrow = await ctx.burrow();
  const pool = burrow.config.pool.mountpoint;
  const upper = join(pool, 'sandboxes', sandbox.info!.id, 'upper');
  const copy = join(pool, `bench-copy-${sandbox.info!.id}`);
  try {
    const t0 = performance.now();
    await runOnHostOk('cp', ['-a', '--reflink=never', upper, copy]);
    await runOnHostOk('sync', ['-f', copy]);
    result.copyMs = performance.now() - t0;
  } finally {
    execFileSync('rm', ['-rf', copy]);
  }
  log(
    `${label}: create ${formatMs(median(result.create))} (frozen ${formatMs(median(result.frozen))}), ` +
      `restore ${formatMs(median(result.restore))} (disk swap ${formatMs(median(result.swap))}), cp -a ${formatMs(result.copyMs)}`,
  );
  return result;
}

export const checkpoints: Benchmark = {
  name: 'checkpoints',
  description: `checkpoint create and restore with 10 MB, 1 GB, 4 GB written (median of ${SAMPLES}), vs cp -a of the disk`,
  async run(ctx) {
    const results: SizeResult[] = [];
    await ctx.withSandbox('ckpt', { runtime: 'gvisor' }, async (sandbox) => {
      await sandbox.refresh();
      for (const { label, mb } of SIZES) {
        // One sandbox, growing: each size is the total written so far.
        const written = results.length === 0 ? mb : mb - SIZES[results.length - 1]!.mb;
        results.push(await measureSize(ctx, sandbox, label, written));
      }
    });
    // The same at the smallest size on runc: what of restore is gVisor's stop and boot.
    let runc: SizeResult | undefined;
    await ctx.withSandbox('ckpt-runc', { runtime: 'runc' }, async (sandbox) => {
      await sandbox.refresh();
      runc = await measureSize(ctx, sandbox, `${SIZES[0]!.label}, runc`, SIZES[0]!.mb);
    });
    const first = results[0]!;
    const figures: Figure[] = [];
    for (const r of results) {
      const create = summarize(r.create);
      const restore = summarize(r.restore);
      const createFlat = create.median <= median(first.create) * FLAT_FACTOR;
      const restoreFlat = restore.median <= median(first.restore) * FLAT_FACTOR;
      figures.push({
        label: `checkpoint create, ${r.label} written (gvisor)`,
        value: create.median,
        unit: 'ms',
        detail: `p90 ${formatMs(create.p90)}; frozen ${formatMs(median(r.frozen))}; n=${create.n}`,
        baseline: { label: `cp -a --reflink=never of the disk, ${r.label}`, value: r.copyMs },
        compare: 'ratio',
        goal: {
          text: `< ${CREATE_GOAL_MS} ms and flat (x${(create.median / median(first.create)).toFixed(2)} of ${first.label})`,
          met: create.median < CREATE_GOAL_MS && createFlat,
        },
      });
      figures.push({
        label: `restore, ${r.label} written (gvisor)`,
        value: restore.median,
        unit: 'ms',
        detail: `p90 ${formatMs(restore.p90)}; disk swap ${formatMs(median(r.swap))}, the rest is stopping and booting gVisor; n=${restore.n}`,
        baseline: { label: `cp -a --reflink=never of the disk, ${r.label}`, value: r.copyMs },
        compare: 'ratio',
        goal: {
          text: `< ${RESTORE_GOAL_MS} ms and flat (x${(restore.median / median(first.restore)).toFixed(2)} of ${first.label})`,
          met: restore.median < RESTORE_GOAL_MS && restoreFlat,
        },
      });
    }
    if (runc) {
      figures.push(
        {
          label: `checkpoint create, ${runc.label}`,
          value: median(runc.create),
          unit: 'ms',
          detail: `frozen ${formatMs(median(runc.frozen))}; n=${runc.create.length}`,
          goal: { text: `< ${CREATE_GOAL_MS} ms`, met: median(runc.create) < CREATE_GOAL_MS },
        },
        {
          label: `restore, ${runc.label}`,
          value: median(runc.restore),
          unit: 'ms',
          detail: `disk swap ${formatMs(median(runc.swap))}; n=${runc.restore.length}`,
          goal: { text: `< ${RESTORE_GOAL_MS} ms`, met: median(runc.restore) < RESTORE_GOAL_MS },
        },
      );
    }
    return {
      figures,
      data: {
        samplesMs: Object.fromEntries(
          [...results, ...(runc ? [runc] : [])].map((r) => [r.label, { create: r.create, frozen: r.frozen, restore: r.restore, swap: r.swap, copy: r.copyMs }]),
        ),
      },
    };
  },
};
