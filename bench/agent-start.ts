// Time to a coding agent: `burrow agent NEW claude` on a real terminal, from the command to Claude
// Code's welcome screen (the sandbox is created on the way), against `burrow create NEW` alone in
// the same run. Also the dev image's size, which the agents make most of.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CLI } from '../test/support/instance.js';
import { log, timed, type BenchContext, type Benchmark, type Figure } from './context.js';
import { formatBytes, formatMs } from './stats.js';

const IN_PTY = join(import.meta.dirname, '../test/support/in-pty.py');
const BANNER = 'Welcome to Claude Code';
const GIVE_UP_MS = 600_000;

/** The screen's words: full-screen programs move the cursor between words instead of spacing. */
const words = (output: string) => output.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ' ').replace(/[ \t]+/g, ' ');

/** Runs `burrow agent` on a pseudo-terminal until the banner shows, then detaches. */
function agentUntilBanner(env: Record<string, string>, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [IN_PTY, '40', '120', process.execPath, CLI, 'agent', name, 'claude'], { env: { ...process.env, ...env, TERM: 'xterm-256color' } });
    let output = '';
    let shown = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), GIVE_UP_MS);
    child.stdout.on('data', (b: Buffer) => {
      output += b.toString();
      if (!shown && words(output).includes(BANNER)) {
        shown = true;
        resolve();
        child.stdin.write('\x1c'); // detach; the agent keeps running until the sandbox goes
      }
    });
    child.on('close', () => {
      clearTimeout(timer);
      if (!shown) reject(new Error(`burrow agent ended without showing "${BANNER}":\n${words(output).slice(-2000)}`));
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
      const start = await timed(() => agentUntilBanner(env, agent));
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
