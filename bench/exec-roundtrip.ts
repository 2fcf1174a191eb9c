// The cost burrow's API adds to running one command: `exec true` and `echo hi` through the SDK's
// WebSocket and through the plain HTTP exec POST, against the bare runtime exec (`runsc exec` /
// `runc exec`) of the same container, against a host spawn. All four are interleaved round by
// round, so drift on a busy machine affects them alike.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runtime, Sandbox } from '@burrow/sdk';
import type { BurrowInstance } from '../test/support/instance.js';
import { log, timed, type BenchContext, type Benchmark, type Figure } from './context.js';
import { runOnHost } from './spawn.js';
import { formatMs, formatOverhead, median, summarize } from './stats.js';

const SAMPLES = 30;
const WARMUP = 3;
const GOAL_OVERHEAD = 0.3;

const COMMANDS = [
  { label: 'exec true', argv: ['true'], stdout: '' },
  { label: 'exec echo hi', argv: ['echo', 'hi'], stdout: 'hi\n' },
] as const;
type Command = (typeof COMMANDS)[number];

const METHODS = ['sdk', 'http', 'raw', 'host'] as const;
type Method = (typeof METHODS)[number];
const METHOD_LABEL: Record<Method, string> = {
  sdk: 'SDK WebSocket',
  http: 'HTTP exec POST',
  raw: 'raw runtime exec',
  host: 'host spawn',
};

/** One way of running `argv`; resolves with its stdout, rejects if it did not exit 0. */
type Runner = (argv: readonly string[]) => Promise<string>;

/** The runtime's own CLI with the global flags burrow gives it (see runtime/runtimes.ts). */
async function runtimeCommand(burrow: BurrowInstance, runtime: Runtime): Promise<{ binary: string; globalArgs: string[] }> {
  const root = join(burrow.home, 'run', runtime);
  if (runtime === 'runc') return { binary: 'runc', globalArgs: ['--root', root] };
  const platform = (await readFile(join(burrow.home, 'run', 'runsc-platform'), 'utf8').catch(() => '')).trim() || 'ptrace';
  return { binary: 'runsc', globalArgs: ['--root', root, `--platform=${platform}`, '--network=host'] };
}

function runners(burrow: BurrowInstance, sandbox: Sandbox, runtime: { binary: string; globalArgs: string[] }): Record<Method, Runner> {
  const sandboxId = sandbox.info?.id;
  if (!sandboxId) throw new Error(`the create reply for ${sandbox.name} carries no id`);
  const containerId = burrow.containerOf(sandboxId, runtime.binary === 'runsc' ? 'gvisor' : 'runc');
  const token = burrow.token;
  const ok = (what: string, code: number, stdout: string, stderr: string): string => {
    if (code !== 0) throw new Error(`${what} exited ${code}: ${stderr.trim()}`);
    return stdout;
  };
  return {
    sdk: async ([cmd, ...args]) => {
      const r = await sandbox.exec(cmd!, args);
      return ok('SDK exec', r.exitCode, r.stdout, r.stderr);
    },
    http: async (argv) => {
      const query = new URLSearchParams(argv.map((a): [string, string] => ['cmd', a]));
      query.set('path', argv[0]!);
      const response = await fetch(`${burrow.url}/v1/sprites/${sandbox.name}/exec?${query}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
      });
      const body = Buffer.from(await response.arrayBuffer());
      if (response.status !== 200) throw new Error(`HTTP exec answered ${response.status}: ${body.toString()}`);
      // Frames are a stream byte and a payload with no length (spec 3.11), the exit frame (3,
      // code) last; for these one-line commands the rest is at most one stdout frame.
      const [exit, frames] = [body.subarray(-2), body.subarray(0, -2)];
      const code = exit[0] === 3 ? exit[1]! : -1;
      const stdout = frames[0] === 1 ? frames.subarray(1).toString() : '';
      return ok('HTTP exec', code, stdout, body.toString());
    },
    raw: async (argv) => {
      const r = await runOnHost(runtime.binary, [...runtime.globalArgs, 'exec', '--user', '1000:1000', containerId, ...argv]);
      return ok(`${runtime.binary} exec`, r.code, r.stdout, r.stderr);
    },
    host: async ([cmd, ...args]) => {
      const r = await runOnHost(cmd!, args);
      return ok('host spawn', r.code, r.stdout, r.stderr);
    },
  };
}

type Samples = Record<string, Record<Method, number[]>>;

async function measure(ctx: BenchContext, runtime: Runtime): Promise<Samples> {
  const burrow = await ctx.burrow();
  const command = await runtimeCommand(burrow, runtime);
  return ctx.withSandbox(`rt-${runtime}`, { runtime }, async (sandbox) => {
    const run = runners(burrow, sandbox, command);
    const samples: Samples = {};
    for (const c of COMMANDS) samples[c.label] = { sdk: [], http: [], raw: [], host: [] };
    for (let round = 0; round < WARMUP + SAMPLES; round++) {
      for (const c of COMMANDS) {
        for (const method of METHODS) {
          const { ms, result } = await timed(() => run[method](c.argv));
          if (result !== c.stdout) throw new Error(`${METHOD_LABEL[method]} ${c.argv.join(' ')} printed ${JSON.stringify(result)}`);
          if (round >= WARMUP) samples[c.label]![method].push(ms);
        }
      }
    }
    for (const c of COMMANDS) {
      const s = samples[c.label]!;
      log(`${runtime} ${c.label}: ${METHODS.map((m) => `${METHOD_LABEL[m]} ${formatMs(median(s[m]))}`).join(', ')}`);
    }
    return samples;
  });
}

function figures(runtime: Runtime, samples: Samples): Figure[] {
  const rawName = runtime === 'gvisor' ? 'runsc exec' : 'runc exec';
  const out: Figure[] = [];
  for (const c of COMMANDS as readonly Command[]) {
    const s = samples[c.label]!;
    const raw = median(s.raw);
    for (const method of ['sdk', 'http'] as const) {
      const sum = summarize(s[method]);
      out.push({
        label: `${c.label}, ${METHOD_LABEL[method]} (${runtime})`,
        value: sum.median,
        unit: 'ms',
        detail: `p90 ${formatMs(sum.p90)}; ${formatOverhead(sum.median, raw)} vs raw; n=${sum.n}`,
        baseline: { label: rawName, value: raw },
        compare: 'overhead',
        goal: { text: `overhead < ${GOAL_OVERHEAD * 100}%`, met: sum.median / raw - 1 < GOAL_OVERHEAD },
      });
    }
    const rawSum = summarize(s.raw);
    out.push({
      label: `${c.label}, ${rawName} of the same container`,
      value: rawSum.median,
      unit: 'ms',
      detail: `p90 ${formatMs(rawSum.p90)}; n=${rawSum.n}`,
      baseline: { label: `host spawn ${c.argv[0]}`, value: median(s.host) },
      compare: 'ratio',
    });
  }
  return out;
}

export const execRoundtrip: Benchmark = {
  name: 'exec-roundtrip',
  description: `exec round trip via SDK WebSocket and HTTP POST vs raw runtime exec vs host spawn: median of ${SAMPLES}, gvisor and runc`,
  async run(ctx) {
    const gvisor = await measure(ctx, 'gvisor');
    const runc = await measure(ctx, 'runc');
    return {
      figures: [...figures('gvisor', gvisor), ...figures('runc', runc)],
      data: { samplesMs: { gvisor, runc }, warmupRounds: WARMUP },
    };
  },
};
