// What an agent's day is made of — unpacking a source tree, committing it, searching and reading
// it, compiling C — run as one identical shell script in a gVisor sandbox, in a runc sandbox and
// on the host (in a temp dir, and again on burrow's btrfs pool, to tell what the storage costs
// from what the runtime costs), round after round in the same run. The script times its phases
// itself (so the API round trip is not in them) and prints counts that must agree everywhere,
// proving the work was the same.
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runtime, Sandbox } from '@burrow/sdk';
import { log, timed, type Benchmark, type Figure } from './context.js';
import { runOnHostOk } from './spawn.js';
import { formatMs, formatRatio, median } from './stats.js';

const PACKAGES = 30;
const FILES_PER_PACKAGE = 100;
const C_UNITS = 20;
/** Each environment runs the script this many times, interleaved; figures are medians. */
const ROUNDS = 3;
/** Sandboxes get the whole 2-core machine, like the host run (the default is 1 CPU). */
const SANDBOX_CPUS = 2;

const RUNC = 'runc';
const RUNC_WITHOUT_USERNS = 'runc without a user namespace';

const PHASES = ['untar', 'git', 'read', 'build'] as const;
type Phase = (typeof PHASES)[number];
const PHASE_LABEL: Record<Phase, string> = {
  untar: 'untar',
  git: 'git init+add+commit',
  read: 'grep -r + read every file',
  build: `make -j2 (${C_UNITS + 1} .c)`,
};

/**
 * Runs in a new directory $1 and unpacks the tarball $2 there. Prints `phase <name> <ns>` marks,
 * `count <name> <value>` lines that must agree everywhere, and `info` lines. tar is told not to
 * chown, so root on the host does what the sandbox user does. The compiler falls back to gcc-12
 * (the same binary) for images whose cc/gcc links are missing.
 */
const SCRIPT = `set -eu
mkdir -p "$1"
cd "$1"
export HOME="$1" LC_ALL=C GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
CC=$(command -v cc || command -v gcc-12 || echo cc)
echo "info cc $CC"
mark() { echo "phase $1 $(date +%s%N)"; }
mark start
tar -x --no-same-owner --no-same-permissions -f "$2"
mark untar
cd src
git init -q
git add -A
git -c user.name=bench -c user.email=bench@localhost commit -q -m x
mark git
echo "count todo-files $(grep -r -l --exclude-dir=.git TODO . | wc -l)"
echo "count bytes-read $(find . -path ./.git -prune -o -type f -exec cat {} + | wc -c)"
mark read
make -s -j2 -C cbuild CC="$CC"
echo "count prog-output $(./cbuild/prog)"
mark build
echo "count files $(git ls-files | wc -l)"
`;

/** A module of a made-up TypeScript project: a few hundred bytes, like most files agents touch. */
function moduleFile(pkg: number, i: number): string {
  const name = `mod${String(i).padStart(3, '0')}`;
  const lines = [`// pkg${pkg}/${name}: generated for the burrow agent-workload benchmark`, `import { helper } from '../shared/helper.js';`, ''];
  for (let f = 0; f < 4; f++) {
    lines.push(`export function ${name}_fn${f}(input: number[]): number {`);
    lines.push(`  let acc = ${pkg * 1000 + i * 10 + f};`);
    lines.push(`  for (const x of input) acc = (acc * 31 + helper(x)) % 1000003;`);
    if ((i + f) % 7 === 0) lines.push(`  // TODO: handle the empty input of ${name}_fn${f}`);
    lines.push('  return acc;', '}', '');
  }
  return lines.join('\n');
}

function cUnit(u: number): string {
  const p = `unit${String(u).padStart(2, '0')}`;
  return `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "units.h"

struct ${p}_entry { char key[32]; unsigned long value; struct ${p}_entry *next; };
static struct ${p}_entry *${p}_table[64];

static unsigned long ${p}_hash(const char *s) {
  unsigned long h = 5381 + ${u};
  while (*s) h = h * 33 + (unsigned char)*s++;
  return h;
}

static void ${p}_put(const char *key, unsigned long value) {
  unsigned long h = ${p}_hash(key) % 64;
  struct ${p}_entry *e = calloc(1, sizeof *e);
  if (!e) abort();
  snprintf(e->key, sizeof e->key, "%s", key);
  e->value = value;
  e->next = ${p}_table[h];
  ${p}_table[h] = e;
}

static unsigned long ${p}_sum(void) {
  unsigned long total = 0;
  for (int i = 0; i < 64; i++)
    for (struct ${p}_entry *e = ${p}_table[i]; e; e = e->next) total += e->value ^ strlen(e->key);
  return total;
}

unsigned long ${p}_run(void) {
  char key[32];
  for (int i = 0; i < 200; i++) {
    snprintf(key, sizeof key, "${p}-%d", i);
    ${p}_put(key, (unsigned long)i * ${u + 3});
  }
  return ${p}_sum();
}
`;
}

/** Writes the project tree under `dir/src` and returns the path of its tarball. */
export async function makeTarball(dir: string): Promise<string> {
  const src = join(dir, 'src');
  for (let pkg = 0; pkg < PACKAGES; pkg++) {
    const pkgDir = join(src, 'packages', `pkg${String(pkg).padStart(2, '0')}`);
    await mkdir(pkgDir, { recursive: true });
    for (let i = 0; i < FILES_PER_PACKAGE; i++) {
      await writeFile(join(pkgDir, `mod${String(i).padStart(3, '0')}.ts`), moduleFile(pkg, i));
    }
  }
  const cbuild = join(src, 'cbuild');
  await mkdir(cbuild, { recursive: true });
  const units = Array.from({ length: C_UNITS }, (_, u) => `unit${String(u).padStart(2, '0')}`);
  for (const [u, name] of units.entries()) await writeFile(join(cbuild, `${name}.c`), cUnit(u));
  await writeFile(join(cbuild, 'units.h'), units.map((n) => `unsigned long ${n}_run(void);\n`).join(''));
  await writeFile(
    join(cbuild, 'main.c'),
    `#include <stdio.h>\n#include "units.h"\nint main(void) {\n  unsigned long t = 0;\n${units.map((n) => `  t += ${n}_run();\n`).join('')}  printf("%lu\\n", t);\n  return 0;\n}\n`,
  );
  await writeFile(
    join(cbuild, 'Makefile'),
    'CFLAGS = -O2 -Wall\nOBJS = $(patsubst %.c,%.o,$(wildcard *.c))\n\nprog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n\n%.o: %.c units.h\n\t$(CC) $(CFLAGS) -c $<\n',
  );
  const tarball = join(dir, 'src.tar');
  await runOnHostOk('tar', ['-C', dir, '-cf', tarball, 'src']);
  return tarball;
}

export interface RunResult {
  /** Wall time of the script as the caller saw it, including the exec round trip. */
  wallMs: number;
  phasesMs: Record<Phase, number>;
  totalMs: number;
  counts: Record<string, string>;
  info: Record<string, string>;
}

/** One place the script runs: `run` executes it in a fresh directory per round. */
interface Environment {
  name: string;
  run(round: number): Promise<{ stdout: string; wallMs: number }>;
}

function parseOutput(where: string, stdout: string, wallMs: number): RunResult {
  const marks = new Map<string, bigint>();
  const counts: Record<string, string> = {};
  const info: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const [kind, name, value] = line.split(' ');
    if (kind === 'phase' && name && value) marks.set(name, BigInt(value));
    if (kind === 'count' && name && value !== undefined) counts[name] = value;
    if (kind === 'info' && name && value !== undefined) info[name] = value;
  }
  const phasesMs = {} as Record<Phase, number>;
  let previous = marks.get('start');
  for (const phase of PHASES) {
    const at = marks.get(phase);
    if (previous === undefined || at === undefined) throw new Error(`${where}: the workload printed no '${phase}' mark:\n${stdout}`);
    phasesMs[phase] = Number(at - previous) / 1e6;
    previous = at;
  }
  const totalMs = PHASES.reduce((sum, p) => sum + phasesMs[p], 0);
  log(`${where}: ${formatMs(totalMs)} (${PHASES.map((p) => `${p} ${formatMs(phasesMs[p])}`).join(', ')}); wall ${formatMs(wallMs)}`);
  return { wallMs, phasesMs, totalMs, counts, info };
}

/** The script on the host, as root, in round directories under `base` (which holds the tarball). */
async function hostEnvironment(name: string, base: string, tarball: string): Promise<Environment> {
  const fstype = (await runOnHostOk('findmnt', ['-n', '-o', 'FSTYPE', '-T', base])).stdout.trim();
  log(`${name}: working under ${base} (${fstype})`);
  const local = join(base, 'src.tar');
  if (local !== tarball) await copyFile(tarball, local);
  return {
    name,
    async run(round) {
      const { ms, result } = await timed(() => runOnHostOk('sh', ['-c', SCRIPT, 'sh', join(base, `r${round}`), local], { cwd: base }));
      return { stdout: result.stdout, wallMs: ms };
    },
  };
}

/** The script in a sandbox, as its user, in round directories under the home directory. */
export async function sandboxEnvironment(sandbox: Sandbox, name: string, tar: Buffer): Promise<Environment> {
  const base = '/home/user/agent-workload';
  const upload = await sandbox.exec('sh', ['-c', 'mkdir -p "$1" && cat > "$1/src.tar"', 'sh', base], { stdin: tar });
  if (upload.exitCode !== 0) throw new Error(`copying the tarball into ${sandbox.name} failed: ${upload.stderr}`);
  return {
    name,
    async run(round) {
      const { ms, result } = await timed(() => sandbox.exec('sh', ['-c', SCRIPT, 'sh', `${base}/r${round}`, `${base}/src.tar`]));
      if (result.exitCode !== 0) {
        throw new Error(`the workload in ${sandbox.name} exited ${result.exitCode}: ${result.stderr.slice(-2000)}`);
      }
      return { stdout: result.stdout, wallMs: ms };
    },
  };
}

export interface EnvSummary {
  runs: RunResult[];
  /** Medians over the rounds. */
  totalMs: number;
  phasesMs: Record<Phase, number>;
}

function summarizeRuns(runs: RunResult[]): EnvSummary {
  const phasesMs = {} as Record<Phase, number>;
  for (const p of PHASES) phasesMs[p] = median(runs.map((r) => r.phasesMs[p]));
  return { runs, totalMs: median(runs.map((r) => r.totalMs)), phasesMs };
}

/** Every environment in turn, round after round, so drift on the machine hits all alike. */
export async function runRounds(envs: Environment[], rounds = ROUNDS): Promise<Record<string, EnvSummary>> {
  const runs: Record<string, RunResult[]> = Object.fromEntries(envs.map((e) => [e.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const env of envs) {
      const { stdout, wallMs } = await env.run(round);
      runs[env.name]!.push(parseOutput(`round ${round + 1}, ${env.name}`, stdout, wallMs));
    }
  }
  const [first, ...rest] = Object.entries(runs).flatMap(([name, rs]) => rs.map((r) => ({ name, r })));
  for (const { name, r } of rest) {
    if (JSON.stringify(r.counts) !== JSON.stringify(first!.r.counts)) {
      throw new Error(`${name} did different work than ${first!.name}: ${JSON.stringify(r.counts)} vs ${JSON.stringify(first!.r.counts)}`);
    }
  }
  log(`every run reported ${JSON.stringify(first!.r.counts)}`);
  for (const [name, rs] of Object.entries(runs)) {
    const cc = rs[0]?.info.cc ?? '';
    if (!/\/cc$/.test(cc)) log(`warning: ${name} has no cc on its PATH; the build used ${cc}`);
  }
  return Object.fromEntries(Object.entries(runs).map(([name, rs]) => [name, summarizeRuns(rs)]));
}

const spread = (s: EnvSummary): string => {
  const totals = s.runs.map((r) => r.totalMs);
  return `median of ${totals.length}, ${formatMs(Math.min(...totals))}..${formatMs(Math.max(...totals))}`;
};

function figures(environment: string, r: EnvSummary, host: EnvSummary, hostPool: EnvSummary): Figure[] {
  const total: Figure = {
    label: `agent workload total (${environment})`,
    value: r.totalMs,
    unit: 'ms',
    detail: `${spread(r)}; ${formatRatio(r.totalMs / hostPool.totalMs)} vs host on the btrfs pool; wall incl. exec ${formatMs(median(r.runs.map((x) => x.wallMs)))}`,
    baseline: { label: 'host', value: host.totalMs },
    compare: 'ratio',
  };
  return [
    total,
    ...PHASES.map((p) => ({
      label: `  ${PHASE_LABEL[p]} (${environment})`,
      value: r.phasesMs[p],
      unit: 'ms' as const,
      detail: `${formatRatio(r.phasesMs[p] / hostPool.phasesMs[p])} vs host on the btrfs pool`,
      baseline: { label: 'host', value: host.phasesMs[p] },
      compare: 'ratio' as const,
    })),
  ];
}

export const agentWorkload: Benchmark = {
  name: 'agent-workload',
  description: `untar ${PACKAGES * FILES_PER_PACKAGE + C_UNITS + 3} files, git commit, grep/read all, make -j2 of ${C_UNITS + 1} C files: gvisor vs runc (with and without a user namespace) vs host, ${ROUNDS} rounds`,
  async run(ctx) {
    const hostDir = await ctx.tempDir('agent-host');
    const tarball = await makeTarball(hostDir);
    const tar = await readFile(tarball);
    log(`source tarball: ${(tar.length / 2 ** 20).toFixed(1)} MiB`);
    // The host run again on the instance's btrfs pool (a loop file), where sandbox disks live:
    // separates what the storage costs from what the runtime costs.
    const poolDir = await mkdtemp(join((await ctx.burrow()).config.pool.mountpoint, 'bench-agent-'));
    try {
      const sandboxOptions = (runtime: Runtime) => ({ runtime, config: { cpus: SANDBOX_CPUS } });
      // runc as it was before each sandbox had a user namespace, from a daemon with them off.
      const unmapped = await (await ctx.otherBurrow({ BURROW_RUNC_USERNS: 'off' }))
        .client()
        .createSandbox(ctx.sandboxName('agent-runc-nouserns'), sandboxOptions('runc'));
      const results = await ctx.withSandbox('agent-runc', sandboxOptions('runc'), (runc) =>
        ctx.withSandbox('agent-gvisor', sandboxOptions('gvisor'), async (gvisor) =>
          runRounds([
            await hostEnvironment('host', hostDir, tarball),
            await hostEnvironment('host on the btrfs pool', poolDir, tarball),
            await sandboxEnvironment(runc, RUNC, tar),
            await sandboxEnvironment(unmapped, RUNC_WITHOUT_USERNS, tar),
            await sandboxEnvironment(gvisor, 'gvisor', tar),
          ]),
        ),
      );
      const host = results.host!;
      const hostPool = results['host on the btrfs pool']!;
      return {
        figures: [
          ...figures('gvisor', results.gvisor!, host, hostPool),
          ...figures(RUNC, results[RUNC]!, host, hostPool),
          ...figures(RUNC_WITHOUT_USERNS, results[RUNC_WITHOUT_USERNS]!, host, hostPool),
          {
            label: 'agent workload total (runc), what the user namespace costs',
            value: results[RUNC]!.totalMs,
            unit: 'ms',
            baseline: { label: RUNC_WITHOUT_USERNS, value: results[RUNC_WITHOUT_USERNS]!.totalMs },
            compare: 'overhead',
          },
          {
            label: 'agent workload total (host, dir on the btrfs pool)',
            value: hostPool.totalMs,
            unit: 'ms',
            detail: `${spread(hostPool)}; ${PHASES.map((p) => `${p} ${formatMs(hostPool.phasesMs[p])}`).join(', ')}`,
            baseline: { label: 'host', value: host.totalMs },
            compare: 'ratio',
          },
        ],
        data: { script: SCRIPT, rounds: ROUNDS, sandboxCpus: SANDBOX_CPUS, results },
      };
    } finally {
      await rm(poolDir, { recursive: true, force: true });
    }
  },
};
