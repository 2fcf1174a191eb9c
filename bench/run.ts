// `npm run bench [-- <name>...]`: runs the selected benchmarks against one fresh `burrow serve`,
// prints each benchmark's figures, then a summary table, and writes everything to
// bench/results/<timestamp>.json. Figures are reported against baselines measured in the same
// run; goals are printed, never asserted. The instance, its sandboxes and temp dirs are removed
// at the end, also on failure or Ctrl-C.
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { agentStart } from './agent-start.js';
import { agentWorkload } from './agent-workload.js';
import { checkpoints } from './checkpoints.js';
import { containment } from './containment.js';
import { BenchContext, type Benchmark, type BenchOutcome, type Figure } from './context.js';
import { createFirstExec } from './create-first-exec.js';
import { e2bSdk } from './e2b-sdk.js';
import { egressProxy } from './egress-proxy.js';
import { execRoundtrip } from './exec-roundtrip.js';
import { exportImage } from './export.js';
import { fsTransfer } from './fs-transfer.js';
import { idleMemory } from './idle-memory.js';
import { meterOverhead } from './meter-overhead.js';
import { sleepWake } from './sleep-wake.js';
import { ttyEcho } from './tty-echo.js';
import { urlProxy } from './url-proxy.js';
import { vmRuntime } from './vm.js';
import { formatBytes, formatMs, formatOverhead, formatRatio, renderTable } from './stats.js';

const BENCHMARKS: Benchmark[] = [createFirstExec, execRoundtrip, idleMemory, agentWorkload, checkpoints, ttyEcho, fsTransfer, urlProxy, meterOverhead, egressProxy, sleepWake, containment, agentStart, e2bSdk, exportImage, vmRuntime];
const RESULTS_DIR = join(import.meta.dirname, 'results');

interface Ran {
  name: string;
  description: string;
  durationMs: number;
  outcome?: BenchOutcome;
  error?: string;
}

function select(args: string[]): Benchmark[] {
  if (args.includes('--list') || args.includes('--help')) {
    console.log(`usage: npm run bench [-- <name>...]\n\n${BENCHMARKS.map((b) => `  ${b.name.padEnd(18)} ${b.description}`).join('\n')}`);
    process.exit(0);
  }
  const unknown = args.filter((a) => !BENCHMARKS.some((b) => b.name === a));
  if (unknown.length) {
    console.error(`unknown benchmark ${unknown.join(', ')}; there are: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
    process.exit(2);
  }
  return args.length ? BENCHMARKS.filter((b) => args.includes(b.name)) : BENCHMARKS;
}

const formatValue = (value: number, unit: Figure['unit']): string => (unit === 'ms' ? formatMs(value) : formatBytes(value));

function cells(benchmark: string, f: Figure): string[] {
  const baseline = f.baseline ? `${f.baseline.label}: ${formatValue(f.baseline.value, f.unit)}` : '-';
  const versus = !f.baseline ? '-' : f.compare === 'overhead' ? formatOverhead(f.value, f.baseline.value) : formatRatio(f.value / f.baseline.value);
  const goal = f.goal ? `${f.goal.text} (${f.goal.met ? 'met' : 'NOT met'})` : '-';
  return [benchmark, f.label, formatValue(f.value, f.unit), baseline, versus, goal];
}

const HEADER = ['benchmark', 'figure', 'value', 'baseline (same run)', 'vs baseline', 'goal'];

function hostInfo(): Record<string, string | number> {
  const firstLine = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0] ?? '';
    } catch {
      return 'unavailable';
    }
  };
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? '',
    memoryBytes: totalmem(),
    kernel: release(),
    node: process.version,
    runsc: firstLine('runsc', ['--version']),
    runc: firstLine('runc', ['--version']),
  };
}

async function main(): Promise<number> {
  const selected = select(process.argv.slice(2));
  const ctx = new BenchContext();
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= ctx.close());
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: removing the benchmark's instance, sandboxes and temp dirs...`);
      void close().finally(() => process.exit(code));
    });
  }

  const startedAt = new Date();
  const ran: Ran[] = [];
  try {
    for (const bench of selected) {
      console.log(`\n== ${bench.name}: ${bench.description}`);
      const t0 = performance.now();
      try {
        const outcome = await bench.run(ctx);
        ran.push({ name: bench.name, description: bench.description, durationMs: performance.now() - t0, outcome });
        for (const f of outcome.figures) {
          const [, label, value, baseline, versus, goal] = cells(bench.name, f);
          console.log(`   ${label}: ${value}${f.detail ? ` [${f.detail}]` : ''}`);
          if (f.baseline) console.log(`     vs ${baseline} -> ${versus}${f.goal ? `; goal ${goal}` : ''}`);
          else if (f.goal) console.log(`     goal ${goal}`);
        }
      } catch (e) {
        const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
        ran.push({ name: bench.name, description: bench.description, durationMs: performance.now() - t0, error });
        console.error(`   FAILED: ${error}`);
      }
      console.log(`   (${formatMs(performance.now() - t0)})`);
    }
  } finally {
    const t0 = performance.now();
    await close();
    console.log(`\ncleaned up in ${formatMs(performance.now() - t0)}`);
  }

  const rows = ran.flatMap((r) => (r.outcome ? r.outcome.figures.map((f) => cells(r.name, f)) : [[r.name, 'FAILED (see above)', '-', '-', '-', '-']]));
  console.log(`\n${renderTable(HEADER, rows)}`);

  await mkdir(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const results = { startedAt: startedAt.toISOString(), durationMs: Date.now() - startedAt.getTime(), host: hostInfo(), benchmarks: ran };
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nresults: ${file}`);
  return ran.some((r) => r.error) ? 1 : 0;
}

process.exitCode = await main();
