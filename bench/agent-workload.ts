// What an agent's day is made of — unpacking a source tree, committing it, searching and reading
// it, compiling C — run as one identical shell script in a gVisor sandbox, in a runc sandbox and
// on the host, in the same run. The script times its phases itself (so the API round trip is
// not in them) and prints counts that must agree everywhere, proving the work was the same.
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runtime } from '@burrow/sdk';
import { log, timed, type BenchContext, type Benchmark, type Figure } from './context.js';
import { runOnHostOk } from './spawn.js';
import { formatMs } from './stats.js';

const PACKAGES = 30;
const FILES_PER_PACKAGE = 100;
const C_UNITS = 20;
/** Sandboxes get the whole 2-core machine, like the host run (the default is 1 CPU). */
const SANDBOX_CPUS = 2;

const PHASES = ['untar', 'git', 'read', 'build'] as const;
type Phase = (typeof PHASES)[number];
const PHASE_LABEL: Record<Phase, string> = {
  untar: 'untar',
  git: 'git init+add+commit',
  read: 'grep -r + read every file',
  build: `make -j2 (${C_UNITS + 1} .c)`,
};

/**
 * Runs in the directory given as $1, which holds src.tar. Prints `phase <name> <ns>` marks,
 * `count <name> <value>` lines that must agree everywhere, and `info` lines. tar is told not to
 * chown, so root on the host does what the sandbox user does. The compiler falls back to gcc-12
 * (the same binary) for images whose cc/gcc links are missing.
 */
const SCRIPT = `set -eu
cd "$1"
export HOME="$1" LC_ALL=C GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
CC=$(command -v cc || command -v gcc-12 || echo cc)
echo "info cc $CC"
mark() { echo "phase $1 $(date +%s%N)"; }
mark start
tar -x --no-same-owner --no-same-permissions -f src.tar
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
async function makeTarball(dir: string): Promise<string> {
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

interface EnvResult {
  /** Wall time of the script as the caller saw it, including the exec round trip. */
  wallMs: number;
  phasesMs: Record<Phase, number>;
  totalMs: number;
  counts: Record<string, string>;
  info: Record<string, string>;
}

function parseOutput(where: string, stdout: string, wallMs: number): EnvResult {
  const marks = new Map<string, bigint>();
  const counts: Record<string, string> = {};
  const info: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const [kind, name, value] = line.split(' ');
    if (kind === 'phase' && name && value) marks.set(name, BigInt(value));
    if (kind === 'count' && name && value !== undefined) counts[name] = value;
    if (kind === 'info' && name && value !== undefined) info[name] = value;
  }
  if (info.cc && !/\/cc$/.test(info.cc)) log(`warning: ${where} has no cc on its PATH; the build used ${info.cc}`);
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

async function onHost(where: string, work: string, tarball: string): Promise<EnvResult> {
  const fstype = (await runOnHostOk('findmnt', ['-n', '-o', 'FSTYPE', '-T', work])).stdout.trim();
  log(`${where}: working in ${work} (${fstype})`);
  await copyFile(tarball, join(work, 'src.tar'));
  const { ms, result } = await timed(() => runOnHostOk('sh', ['-c', SCRIPT, 'sh', work], { cwd: work }));
  return parseOutput(where, result.stdout, ms);
}

/**
 * The host run again, in a directory on the instance's btrfs pool (a loop file), where sandbox
 * disks live: separates what the storage costs from what the runtime costs.
 */
async function onHostPool(ctx: BenchContext, tarball: string): Promise<EnvResult> {
  const pool = (await ctx.burrow()).config.pool.mountpoint;
  const work = await mkdtemp(join(pool, 'bench-agent-'));
  try {
    return await onHost('host on the btrfs pool', work, tarball);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function inSandbox(ctx: BenchContext, runtime: Runtime, tar: Buffer): Promise<EnvResult> {
  return ctx.withSandbox(`agent-${runtime}`, { runtime, config: { cpus: SANDBOX_CPUS } }, async (sandbox) => {
    const work = '/home/user/agent-workload';
    const upload = await sandbox.exec('sh', ['-c', 'mkdir -p "$1" && cat > "$1/src.tar"', 'sh', work], { stdin: tar });
    if (upload.exitCode !== 0) throw new Error(`copying the tarball into ${sandbox.name} failed: ${upload.stderr}`);
    const { ms, result } = await timed(() => sandbox.exec('sh', ['-c', SCRIPT, 'sh', work]));
    if (result.exitCode !== 0) {
      throw new Error(`the workload in ${sandbox.name} exited ${result.exitCode}: ${result.stderr.slice(-2000)}`);
    }
    return parseOutput(runtime, result.stdout, ms);
  });
}

function figures(runtime: Runtime, r: EnvResult, host: EnvResult): Figure[] {
  const total: Figure = {
    label: `agent workload total (${runtime})`,
    value: r.totalMs,
    unit: 'ms',
    detail: `one run; wall incl. exec ${formatMs(r.wallMs)}`,
    baseline: { label: 'host', value: host.totalMs },
    compare: 'ratio',
  };
  return [
    total,
    ...PHASES.map((p) => ({
      label: `  ${PHASE_LABEL[p]} (${runtime})`,
      value: r.phasesMs[p],
      unit: 'ms' as const,
      baseline: { label: 'host', value: host.phasesMs[p] },
      compare: 'ratio' as const,
    })),
  ];
}

export const agentWorkload: Benchmark = {
  name: 'agent-workload',
  description: `untar ${PACKAGES * FILES_PER_PACKAGE + C_UNITS + 3} files, git commit, grep/read all, make -j2 of ${C_UNITS + 1} C files: gvisor vs runc vs host`,
  async run(ctx) {
    const tarball = await makeTarball(await ctx.tempDir('agent-src'));
    const tar = await readFile(tarball);
    log(`source tarball: ${(tar.length / 2 ** 20).toFixed(1)} MiB`);
    const host = await onHost('host', await ctx.tempDir('agent-host'), tarball);
    const hostPool = await onHostPool(ctx, tarball);
    const runc = await inSandbox(ctx, 'runc', tar);
    const gvisor = await inSandbox(ctx, 'gvisor', tar);
    for (const [where, r] of Object.entries({ hostPool, runc, gvisor })) {
      if (JSON.stringify(r.counts) !== JSON.stringify(host.counts)) {
        throw new Error(`${where} did different work than the host: ${JSON.stringify(r.counts)} vs ${JSON.stringify(host.counts)}`);
      }
    }
    log(`every environment reported ${JSON.stringify(host.counts)}`);
    return {
      figures: [
        ...figures('gvisor', gvisor, host),
        ...figures('runc', runc, host),
        {
          label: 'agent workload total (host, dir on the btrfs pool)',
          value: hostPool.totalMs,
          unit: 'ms',
          detail: `one run; ${PHASES.map((p) => `${p} ${formatMs(hostPool.phasesMs[p])}`).join(', ')}`,
          baseline: { label: 'host', value: host.totalMs },
          compare: 'ratio',
        },
      ],
      data: { script: SCRIPT, sandboxCpus: SANDBOX_CPUS, host, hostPool, runc, gvisor },
    };
  },
};
