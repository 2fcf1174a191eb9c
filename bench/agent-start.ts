// Time to a coding agent: `burrow agent NEW claude` on a real terminal, from the command to Claude
// Code's welcome screen (the sandbox is created on the way), against `burrow create NEW` alone in
// the same run. Also the dev image's size, which the agents make most of.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CLI, REPO } from '../test/support/instance.js';
import { log, timed, type BenchContext, type Benchmark, type Figure } from './context.js';
import { formatBytes, formatMs } from './stats.js';

const PTY_DRIVER = join(REPO, 'packages/cli/test/pty-driver.py');
const BANNER = 'Welcome to Claude Code';

/** Runs `burrow agent` on a pseudo-terminal until the banner shows, then detaches: seconds to the banner. */
function agentUntilBanner(env: Record<string, string>, name: string): Promise<number> {
  const steps = [{ wait: BANNER, within: 600 }, { type: '\x1c' }, { wait: 'detached', within: 30 }];
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [PTY_DRIVER, '40', '120', JSON.stringify(steps), '--', process.execPath, CLI, 'agent', name, 'claude'], {
      env: { ...process.env, ...env, TERM: 'xterm-256color' },
    });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.on('error', reject);
    child.on('close', () => {
      const result = JSON.parse(Buffer.concat(out).toString()) as { shown: string; met: Array<number | null> };
      const seconds = result.met[0];
      if (seconds === null || seconds === undefined) reject(new Error(`burrow agent did not show "${BANNER}":\n${result.shown.slice(-2000)}`));
      else resolve(seconds);
    });
  });
}

function cli(env: Record<string, string>, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`burrow ${args.join(' ')} exited ${code}: ${out}`))));
  });
}

export const agentStart: Benchmark = {
  name: 'agent-start',
  description: '`burrow agent NEW claude` to the welcome screen vs `burrow create NEW`, and the dev image size',
  async run(ctx: BenchContext) {
    const burrow = await ctx.burrow();
    const client = burrow.client();
    const env = burrow.cliEnv();
    const created = ctx.sandboxName('create');
    const agent = ctx.sandboxName('agent');
    try {
      const create = await timed(() => cli(env, ['create', created, '--image', 'dev']));
      // The driver times from its own start, which is the command's.
      const start = { ms: (await agentUntilBanner(env, agent)) * 1000 };
      const images = JSON.parse(await cli(env, ['image', 'list', '--json'])) as Array<{ name: string; size_bytes: number | null }>;
      const dev = images.find((i) => i.name === 'dev')?.size_bytes ?? 0;
      log(`burrow agent to "${BANNER}": ${formatMs(start.ms)}; burrow create alone: ${formatMs(create.ms)}; dev image ${formatBytes(dev)}`);
      const figures: Figure[] = [
        {
          label: 'burrow agent NEW claude to its welcome screen (gvisor)',
          value: start.ms,
          unit: 'ms',
          baseline: { label: 'burrow create NEW --image dev', value: create.ms },
          compare: 'ratio',
        },
        { label: 'dev image tarball (with the agents)', value: dev, unit: 'bytes' },
      ];
      return { figures, data: { agentStartMs: start.ms, createMs: create.ms, devImageBytes: dev } };
    } finally {
      for (const name of [created, agent]) await client.sandbox(name).delete().catch(() => {});
    }
  },
};
