// The `vm` runtime against runc, in the same run, on whatever acceleration this host gives QEMU
// (`burrow doctor` says which; these machines have no usable KVM, so TCG: software emulation,
// whose figures say what the code path costs, not what a KVM host gets). Measured: create until
// the first command has run, the round trip of `exec true`, checkpoint create and restore with
// 10 MB and 1 GB written, checkpoints that keep the machine's memory (create, restore, size)
// against disk-only ones, the host memory of an idle sandbox (its cgroup), and one round of the
// agent workload (agent-workload.ts).
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runtime, Sandbox } from '@burrow/sdk';
import { poolLayout } from '@burrow/server/testing';
import type { BurrowInstance } from '../test/support/instance.js';
import { makeTarball, runRounds, sandboxEnvironment } from './agent-workload.js';
import { log, timed, type BenchContext, type Benchmark, type Figure } from './context.js';
import { formatBytes, formatMs, median } from './stats.js';

const RUNTIMES = ['vm', 'runc'] as const satisfies readonly Runtime[];
const CREATE_SAMPLES = 3;
const EXEC_SAMPLES = 20;
const CHECKPOINT_SIZES = [
  { label: '10 MB', mb: 10 },
  { label: '1 GB', mb: 1024 },
];
const CHECKPOINT_SAMPLES = 2;
/** How long a fresh sandbox is left alone before its memory is read. */
const SETTLE_MS = 5000;
/** Room for 1 GB written next to the image, and the whole 2-core machine for the workload. */
const SANDBOX_CONFIG = { cpus: 2, ram_mb: 1024, storage_gb: 8 };

type Samples = Record<(typeof RUNTIMES)[number], number[]>;

function versusRunc(label: string, samples: Samples, detail = ''): Figure {
  const vm = median(samples.vm);
  return {
    label,
    value: vm,
    unit: 'ms',
    detail: `median of ${samples.vm.length}${detail}`,
    baseline: { label: 'runc', value: median(samples.runc) },
    compare: 'ratio',
  };
}

async function createFirstExec(ctx: BenchContext): Promise<Samples> {
  const client = await ctx.client();
  // Not counted: the first vm sandbox of an image builds the image's disk (once per image), and
  // the first on a machine fetches the guest kernel and probes KVM.
  const { ms: firstMs } = await timed(() => ctx.withSandbox('vm-first', { runtime: 'vm' }, (s) => s.exec('true')));
  log(`first vm sandbox of the image (disk built): ${formatMs(firstMs)}`);
  const samples: Samples = { vm: [], runc: [] };
  for (let i = 0; i < CREATE_SAMPLES; i++) {
    for (const runtime of RUNTIMES) {
      const { ms, result: sandbox } = await timed(async () => {
        const created = await client.createSandbox(ctx.sandboxName(`vm-cfe-${runtime}-${i}`), { runtime });
        await created.exec('true');
        return created;
      });
      samples[runtime].push(ms);
      await sandbox.delete();
    }
  }
  return samples;
}

async function execRoundTrips(sandboxes: Record<string, Sandbox>): Promise<Samples> {
  const samples: Samples = { vm: [], runc: [] };
  for (let i = 0; i < EXEC_SAMPLES; i++) {
    for (const runtime of RUNTIMES) {
      const { ms, result } = await timed(() => sandboxes[runtime]!.exec('true'));
      if (result.exitCode !== 0) throw new Error(`exec true in the ${runtime} sandbox exited ${result.exitCode}`);
      samples[runtime].push(ms);
    }
  }
  return samples;
}

async function checkpointTimes(sandboxes: Record<string, Sandbox>, mb: number): Promise<{ create: Samples; restore: Samples }> {
  const create: Samples = { vm: [], runc: [] };
  const restore: Samples = { vm: [], runc: [] };
  for (let i = 0; i < CHECKPOINT_SAMPLES; i++) {
    for (const runtime of RUNTIMES) {
      const sandbox = sandboxes[runtime]!;
      const written = await sandbox.exec('sh', ['-c', `head -c ${mb}M /dev/urandom > /home/user/data-${i}`]);
      if (written.exitCode !== 0) throw new Error(`writing ${mb} MB in the ${runtime} sandbox failed: ${written.stderr}`);
      const taken = await timed(() => sandbox.createCheckpoint(`${mb} MB, sample ${i}`));
      create[runtime].push(taken.ms);
      restore[runtime].push((await timed(() => sandbox.restoreCheckpoint(taken.result.id))).ms);
      await sandbox.exec('rm', ['-f', `/home/user/data-${i}`]);
    }
  }
  return { create, restore };
}

/**
 * Checkpoints that keep the machine's memory against disk-only ones of the same sandbox, with
 * the counter of the integration test running: create, restore (a resume against a boot), and
 * the size of the memory the checkpoint holds.
 */
async function memoryCheckpoints(burrow: BurrowInstance, sandbox: Sandbox): Promise<{ create: MemorySamples; restore: MemorySamples; bytes: number[] }> {
  const create: MemorySamples = { memory: [], disk: [] };
  const restore: MemorySamples = { memory: [], disk: [] };
  const bytes: number[] = [];
  await sandbox.exec('sh', ['-c', 'nohup sh -c "i=0; while :; do i=\\$((i + 1)); sleep 0.2; done" >/dev/null 2>&1 &']);
  for (let i = 0; i < CHECKPOINT_SAMPLES; i++) {
    for (const kind of ['memory', 'disk'] as const) {
      const taken = await timed(() => sandbox.createCheckpoint(`${kind}, sample ${i}`, { memory: kind === 'memory' }));
      create[kind].push(taken.ms);
      if (kind === 'memory') {
        const path = join(poolLayout(burrow.config).checkpoints, sandbox.info!.id, taken.result.id, 'memory.state');
        bytes.push((await stat(path)).size);
      }
      restore[kind].push((await timed(() => sandbox.restoreCheckpoint(taken.result.id))).ms);
    }
  }
  return { create, restore, bytes };
}

type MemorySamples = { memory: number[]; disk: number[] };

function memoryVersusDisk(label: string, samples: MemorySamples): Figure {
  return {
    label,
    value: median(samples.memory),
    unit: 'ms',
    detail: `median of ${samples.memory.length}`,
    baseline: { label: 'disk-only checkpoint, same sandbox', value: median(samples.disk) },
    compare: 'ratio',
  };
}

/** What the sandbox's memory cgroup holds (for a VM: QEMU, the guest's RAM it touched and its own). */
async function cgroupMemory(burrow: BurrowInstance, sandbox: Sandbox): Promise<number> {
  const prefix = `burrow-${burrow.config.instanceTag}-${sandbox.info?.id}-`;
  const [group] = (await readdir('/sys/fs/cgroup/memory')).filter((g) => g.startsWith(prefix));
  if (!group) throw new Error(`no memory cgroup for ${sandbox.name}`);
  return Number(await readFile(join('/sys/fs/cgroup/memory', group, 'memory.usage_in_bytes'), 'utf8'));
}

export const vmRuntime: Benchmark = {
  name: 'vm',
  description: `the vm runtime vs runc: create -> first exec, exec true, checkpoint/restore at ${CHECKPOINT_SIZES.map((s) => s.label).join(' and ')}, memory checkpoints, idle memory, one agent-workload round`,
  async run(ctx) {
    const burrow = await ctx.burrow();
    const accel = (await readFile(join(burrow.config.imageCache, '..', 'vm-acceleration'), 'utf8').catch(() => 'not probed yet')).trim();
    const created = await createFirstExec(ctx);
    const figures: Figure[] = [versusRunc(`create -> first exec true (vm, ${accel})`, created)];
    const data: Record<string, unknown> = { accel, created };

    const client = await ctx.client();
    const sandboxes: Record<string, Sandbox> = {};
    try {
      for (const runtime of RUNTIMES) {
        sandboxes[runtime] = await client.createSandbox(ctx.sandboxName(`vm-${runtime}`), { runtime, config: SANDBOX_CONFIG });
      }
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const memory = { vm: await cgroupMemory(burrow, sandboxes.vm!), runc: await cgroupMemory(burrow, sandboxes.runc!) };
      log(`idle memory: vm ${formatBytes(memory.vm)}, runc ${formatBytes(memory.runc)}`);
      figures.push({
        label: `idle sandbox, host memory (vm, ${SANDBOX_CONFIG.ram_mb} MB guest)`,
        value: memory.vm,
        unit: 'bytes',
        detail: 'its memory cgroup',
        baseline: { label: 'runc', value: memory.runc },
        compare: 'ratio',
      });

      const exec = await execRoundTrips(sandboxes);
      log(`exec true: vm ${formatMs(median(exec.vm))}, runc ${formatMs(median(exec.runc))}`);
      figures.push(versusRunc('exec true, SDK (vm)', exec));
      data.exec = exec;

      for (const size of CHECKPOINT_SIZES) {
        const times = await checkpointTimes(sandboxes, size.mb);
        log(`${size.label}: create vm ${formatMs(median(times.create.vm))} runc ${formatMs(median(times.create.runc))}; restore vm ${formatMs(median(times.restore.vm))} runc ${formatMs(median(times.restore.runc))}`);
        figures.push(versusRunc(`checkpoint create, ${size.label} written (vm)`, times.create), versusRunc(`checkpoint restore, ${size.label} written (vm)`, times.restore));
        data[`checkpoint ${size.label}`] = times;
      }

      const memoryTimes = await memoryCheckpoints(burrow, sandboxes.vm!);
      const memoryBytes = median(memoryTimes.bytes);
      log(`memory checkpoints: create ${formatMs(median(memoryTimes.create.memory))} (disk only ${formatMs(median(memoryTimes.create.disk))}), restore ${formatMs(median(memoryTimes.restore.memory))} (a boot: ${formatMs(median(memoryTimes.restore.disk))}), memory ${formatBytes(memoryBytes)}`);
      figures.push(
        memoryVersusDisk(`checkpoint create with memory (vm, ${SANDBOX_CONFIG.ram_mb} MB guest)`, memoryTimes.create),
        memoryVersusDisk('checkpoint restore with memory: a resume (vm)', memoryTimes.restore),
        { label: `memory a checkpoint holds (vm, ${SANDBOX_CONFIG.ram_mb} MB guest)`, value: memoryBytes, unit: 'bytes', detail: `median of ${memoryTimes.bytes.length}` },
      );
      data.memoryCheckpoints = memoryTimes;

      const tar = await readFile(await makeTarball(await ctx.tempDir('vm-workload')));
      const workload = await runRounds(
        [await sandboxEnvironment(sandboxes.runc!, 'runc', tar), await sandboxEnvironment(sandboxes.vm!, 'vm', tar)],
        1,
      );
      figures.push({
        label: `agent workload total (vm, ${accel})`,
        value: workload.vm!.totalMs,
        unit: 'ms',
        detail: 'one round',
        baseline: { label: 'runc', value: workload.runc!.totalMs },
        compare: 'ratio',
      });
      data.workload = workload;
    } finally {
      for (const sandbox of Object.values(sandboxes)) await sandbox.delete().catch((e: Error) => log(`warning: deleting ${sandbox.name}: ${e.message}`));
    }
    return { figures, data };
  },
};
