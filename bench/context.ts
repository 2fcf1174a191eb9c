// What a benchmark receives (one shared `burrow serve`, sandbox names, temp dirs, all torn down
// by the runner even when a benchmark fails) and what it hands back (figures against baselines).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BurrowClient, CreateSandboxOptions, Sandbox } from '@burrow/sdk';
import { BurrowInstance, sandboxName } from '../test/support/instance.js';

export type Unit = 'ms' | 'bytes';

/** One line of the summary table. */
export interface Figure {
  /** What was measured, e.g. "exec true, SDK WebSocket (gvisor)". */
  label: string;
  value: number;
  unit: Unit;
  /** Spread or sample count, printed beside the value. */
  detail?: string;
  /** The same thing measured without burrow (or with less of it), in the same run. */
  baseline?: { label: string; value: number };
  /** `ratio` prints x12.3 (figure / baseline); `overhead` prints +23% (figure / baseline - 1). */
  compare?: 'ratio' | 'overhead';
  /** A target from the design; reported, never asserted. */
  goal?: { text: string; met: boolean };
}

export interface BenchOutcome {
  figures: Figure[];
  /** Raw samples and anything else worth keeping in the JSON results. */
  data: Record<string, unknown>;
}

export interface Benchmark {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<BenchOutcome>;
}

export class BenchContext {
  private instance: BurrowInstance | undefined;
  private starting: Promise<BurrowInstance> | undefined;
  private readonly dirs: string[] = [];
  private readonly others: BurrowInstance[] = [];

  /** The run's `burrow serve`, started on first use (a few seconds: pool + image import). */
  burrow(): Promise<BurrowInstance> {
    this.starting ??= (async () => {
      // ptrace is what 'auto' settles on here (DESIGN.md: kvm hangs). Pinning it skips the
      // 10 s kvm probe of a fresh home, whose hung `runsc do` outlives a daemon killed mid-probe.
      const instance = await BurrowInstance.create({ BURROW_RUNSC_PLATFORM: 'ptrace' });
      // Recorded before start, so a daemon that fails to start is still purged.
      this.instance = instance;
      const t0 = performance.now();
      await instance.start();
      log(`burrow serve listening on ${instance.url} (home ${instance.home}, started in ${Math.round(performance.now() - t0)} ms)`);
      return instance;
    })();
    return this.starting;
  }

  /**
   * A second `burrow serve` with other settings (e.g. a feature turned off to measure what it
   * costs), started now and torn down with the run.
   */
  async otherBurrow(env: Record<string, string>): Promise<BurrowInstance> {
    const instance = await BurrowInstance.create({ BURROW_RUNSC_PLATFORM: 'ptrace', ...env });
    this.others.push(instance);
    await instance.start();
    log(`second burrow serve (${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}) on ${instance.url}`);
    return instance;
  }

  async client(): Promise<BurrowClient> {
    return (await this.burrow()).client();
  }

  /** A sandbox name unique to this run, so leftovers of another run never collide. */
  sandboxName(label: string): string {
    return sandboxName(`b-${label}`);
  }

  /** Creates a sandbox, hands it to `work`, and deletes it afterwards whatever happens. */
  async withSandbox<T>(label: string, options: CreateSandboxOptions, work: (sandbox: Sandbox) => Promise<T>): Promise<T> {
    const client = await this.client();
    const sandbox = await client.createSandbox(this.sandboxName(label), options);
    try {
      return await work(sandbox);
    } finally {
      await sandbox.delete().catch((e: Error) => log(`warning: deleting ${sandbox.name} failed: ${e.message}`));
    }
  }

  /** A fresh host directory, removed when the run ends. */
  async tempDir(label: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `burrow-bench-${label}-`));
    this.dirs.push(dir);
    return dir;
  }

  /** Stops and purges the instance and removes the temp dirs; safe to call more than once. */
  async close(): Promise<void> {
    const instance = this.instance;
    this.instance = undefined;
    this.starting = undefined;
    if (instance) await instance.destroy();
    for (const other of this.others.splice(0)) await other.destroy();
    for (const dir of this.dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  }
}

export function log(line: string): void {
  process.stderr.write(`  ${line}\n`);
}

/** Milliseconds `work` took, with its result. */
export async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const t0 = performance.now();
  const result = await work();
  return { ms: performance.now() - t0, result };
}
