// The coding agents of the dev image, keyless: Claude Code, Codex CLI and Gemini CLI answer
// from their (fake) APIs through the egress proxy while the sandbox holds only placeholders,
// git pushes over HTTPS with the github preset, and `burrow agent` runs on a real terminal,
// detaches and re-attaches. The first run on a machine builds the dev image (several minutes).
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority } from '@burrow/server/testing';
import { inspectToken, type BurrowClient } from '@burrow/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeInternet } from '../support/fake-internet.js';
import { grepTree } from '../support/grep-tree.js';
import { BurrowInstance, CLI, REPO, sandboxName } from '../support/instance.js';

const REPLY = 'Hello from the fake upstream';
const run = Date.now().toString(36);
const KEYS = {
  anthropic: `sk-ant-api03-${run}-real`,
  openai: `sk-proj-${run}-real`,
  gemini: `AIzaSy${run}-real`,
  github: `ghp_${run}real`,
};
const sha256 = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;
const PTY_DRIVER = join(REPO, 'packages/cli/test/pty-driver.py');
const APIS = ['api.anthropic.com', 'api.openai.com', 'generativelanguage.googleapis.com', 'github.com', 'api.github.com'];

let burrow: BurrowInstance;
let client: BurrowClient;
let internet: FakeInternet;
let dir: string;
const box = sandboxName('agents');
const ttyBox = sandboxName('agent-tty');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'burrow-agents-it-'));
  const upstreamCa = await CertificateAuthority.open(join(dir, 'upstream-ca'));
  writeFileSync(join(dir, 'upstream-ca.crt'), upstreamCa.certPem);
  mkdirSync(join(dir, 'git', 'burrow'), { recursive: true });
  execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', join(dir, 'git', 'burrow', 'demo.git')]);
  const certs: Record<string, { key: string; cert: string }> = {};
  for (const name of APIS) certs[name] = await upstreamCa.leafFor(name);
  internet = new FakeInternet();
  await internet.start(Object.fromEntries(APIS.map((name, i) => [name, 10 + i])), certs, {
    script: join(import.meta.dirname, '../support/fake-apis.mjs'),
    env: { REPLY, GIT_ROOT: join(dir, 'git'), GIT_AUTH_SHA256: sha256(basic(`x-access-token:${KEYS.github}`)) },
  });
  burrow = await BurrowInstance.create({
    BURROW_DNS_UPSTREAM: `127.0.0.1:${internet.dnsPort}`,
    BURROW_EGRESS_UPSTREAM_CA: join(dir, 'upstream-ca.crt'),
  });
  await burrow.start();
  client = burrow.client();
  await client.createSandbox(box, { image: 'dev' });
  for (const [preset, key] of Object.entries(KEYS)) {
    const added = await burrow.cli(['secret', 'add', preset, '--preset', preset], { input: `${key}\n` });
    expect(added.code, added.stderr).toBe(0);
    const granted = await burrow.cli(['secret', 'grant', preset, box]);
    expect(granted.code, granted.stderr).toBe(0);
  }
}, 1_200_000);

afterAll(async () => {
  await burrow?.destroy();
  await internet?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});


const sh = (script: string) => client.sandbox(box).exec('bash', ['-c', script]);

interface Seen {
  host: string;
  method: string;
  url: string;
  headers: Record<string, string>;
}

/** What the fake upstreams received, asked from the host (not through burrow). */
function seen(): Seen[] {
  const host = 'api.anthropic.com';
  const out = execFileSync('curl', ['-sS', '-k', '--resolve', `${host}:443:${internet.names.get(host)}`, `https://${host}/__seen`], { encoding: 'utf8' });
  return JSON.parse(out) as Seen[];
}

describe('the dev image', () => {
  it('carries Claude Code, Codex CLI and Gemini CLI on Node.js 24, run as user', async () => {
    const r = await sh('id -un; node --version; claude --version; codex --version; gemini --version');
    expect(r.exitCode, r.stderr).toBe(0);
    const [user, node, claude, codex, gemini] = r.stdout.trim().split('\n');
    expect(user).toBe('user');
    expect(node).toMatch(/^v24\./);
    expect(claude).toMatch(/^\d+\.\d+\.\d+ \(Claude Code\)$/);
    expect(codex).toMatch(/^codex-cli \d+\.\d+\.\d+$/);
    expect(gemini).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('agents with only placeholders inside', () => {
  it('gives each tool its variable, holding a placeholder', async () => {
    const vars = ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'CODEX_API_KEY', 'GEMINI_API_KEY', 'GH_TOKEN'];
    const r = await sh(`for v in ${vars.join(' ')}; do printf "%s=%.10s\\n" $v "\${!v}"; done`);
    expect(r.stdout).toBe(vars.map((v) => `${v}=burrow_ph_\n`).join(''));
  });

  it('Claude Code (`claude -p`) prints the streamed reply, and the Messages API got the real key', async () => {
    const r = await sh('claude -p "say hi"');
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain(REPLY);
    const call = seen().find((s) => s.host === 'api.anthropic.com' && s.method === 'POST' && s.url.startsWith('/v1/messages'));
    expect(call?.headers['x-api-key']).toBe(sha256(KEYS.anthropic));
  }, 300_000);

  it('Codex CLI (`codex exec`) prints the streamed reply, and the Responses API got the real key', async () => {
    const r = await sh('codex exec --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox "say hi"');
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain(REPLY);
    // Codex tries the Responses API's WebSocket first (this fake refuses it), then streams over HTTPS.
    const calls = seen().filter((s) => s.host === 'api.openai.com' && s.url.startsWith('/v1/responses'));
    expect(calls.some((s) => s.method === 'POST')).toBe(true);
    expect(new Set(calls.map((s) => s.headers.authorization))).toEqual(new Set([sha256(`Bearer ${KEYS.openai}`)]));
  }, 300_000);

  it('Gemini CLI (`gemini -p`) prints the streamed reply, and the Gemini API got the real key', async () => {
    const r = await sh('gemini -p "say hi"');
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain(REPLY);
    const call = seen().find((s) => s.host === 'generativelanguage.googleapis.com' && s.url.includes(':streamGenerateContent'));
    expect(call?.headers['x-goog-api-key']).toBe(sha256(KEYS.gemini));
  }, 300_000);

  it('git pushes over HTTPS with the github preset: Basic x-access-token credentials, injected', async () => {
    const r = await sh(
      [
        'set -e',
        'git init --quiet --initial-branch=main ~/demo && cd ~/demo',
        'git -c user.name=t -c user.email=t@example.com commit --quiet --allow-empty -m "from the sandbox"',
        'git push --quiet https://github.com/burrow/demo.git main',
      ].join('\n'),
    );
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    const log = execFileSync('git', ['--git-dir', join(dir, 'git', 'burrow', 'demo.git'), 'log', '--format=%s', 'main'], { encoding: 'utf8' });
    expect(log).toBe('from the sandbox\n');
    const pushed = seen().filter((s) => s.host === 'github.com' && s.headers.authorization);
    expect(pushed.length).toBeGreaterThan(0);
    expect(new Set(pushed.map((s) => s.headers.authorization))).toEqual(new Set([sha256(basic(`x-access-token:${KEYS.github}`))]));
  }, 300_000);

  it('`burrow-env secret NAME --ttl` prints a fresh placeholder that expires sooner and works', async () => {
    const r = await sh('burrow-env secret anthropic --ttl 10m');
    expect(r.exitCode, r.stderr).toBe(0);
    const fresh = r.stdout.trim();
    const { caveats } = inspectToken(fresh.slice('burrow_ph_'.length));
    const expires = Date.parse(caveats.at(-1)!.replace(/^expires = /, ''));
    expect(expires - Date.now()).toBeGreaterThan(8 * 60_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(10 * 60_000);
    const body = JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    const call = await sh(`curl -sS -H "x-api-key: ${fresh}" -H 'content-type: application/json' -d '${body}' https://api.anthropic.com/v1/messages`);
    expect(call.stdout).toContain(REPLY);
    const missing = await sh('burrow-env secret nothing-granted');
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain("no secret 'nothing-granted' is granted");
  });

  it('the real keys are nowhere inside: no process environment, no file (agent configs, logs, /tmp)', async () => {
    await sh('sleep 60 >/dev/null 2>&1 & true');
    const environ = await sh("sudo sh -c 'cat /proc/[0-9]*/environ' | tr '\\0' '\\n'");
    expect(environ.stdout).toContain('ANTHROPIC_API_KEY=burrow_ph_');
    // The agents wrote their state: the search below covers it.
    const state = await sh('ls -d ~/.claude ~/.codex ~/.gemini');
    expect(state.exitCode, state.stderr).toBe(0);
    const sprite = await client.getSandbox(box);
    const disk = join(burrow.config.pool.mountpoint, 'sandboxes', String(sprite.info?.id));
    for (const key of Object.values(KEYS)) {
      expect(environ.stdout).not.toContain(key);
      expect(await grepTree(disk, key)).toEqual([]);
    }
  });
});

describe('burrow agent', () => {
  type Step = { wait: string; within?: number } | { type: string };
  const DETACH = '\x1c'; // Ctrl+\

  /** `burrow agent` on a pseudo-terminal of its own, as a person runs it (see pty-driver.py). */
  function onTerminal(steps: Step[], args: string[]): Promise<{ code: number; shown: string; met: Array<number | null> }> {
    return new Promise((resolve, reject) => {
      const child = spawn('python3', [PTY_DRIVER, '40', '120', JSON.stringify(steps), '--', process.execPath, CLI, ...args], {
        env: { ...process.env, ...burrow.cliEnv(), TERM: 'xterm-256color' },
      });
      const out: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
      child.on('error', reject);
      child.on('close', () => resolve(JSON.parse(Buffer.concat(out).toString())));
    });
  }

  it('creates the sandbox, starts Claude Code in YOLO mode in /home/user, detaches and re-attaches', async () => {
    const first = await onTerminal(
      [{ wait: `creating sandbox ${ttyBox}`, within: 120 }, { wait: 'Welcome to Claude Code', within: 300 }, { type: DETACH }, { wait: 'detached', within: 30 }],
      ['agent', ttyBox, 'claude'],
    );
    expect(first.met.every((t) => t !== null), first.shown.slice(-3000)).toBe(true);
    expect(first.code).toBe(0);
    expect(first.shown).toMatch(/detached from session \S+; re-attach with: burrow sessions attach/);

    const sessions = await client.sandbox(ttyBox).listSessions();
    const running = sessions.filter((s) => s.is_active);
    expect(running).toHaveLength(1);
    expect(running[0]).toMatchObject({ tty: true, command: 'claude --dangerously-skip-permissions', workdir: '/home/user' });

    const again = await onTerminal([{ wait: 'Welcome to Claude Code', within: 120 }, { type: DETACH }, { wait: 'detached', within: 30 }], ['agent', ttyBox, 'claude']);
    expect(again.met.every((t) => t !== null), again.shown.slice(-3000)).toBe(true);
    expect(again.code).toBe(0);
    expect(again.shown).not.toContain('creating sandbox');
    expect((await client.sandbox(ttyBox).listSessions()).filter((s) => s.is_active).map((s) => s.id)).toEqual([running[0]!.id]);
  }, 300_000);

  it('starts Codex signed in with the placeholder, at its prompt in YOLO mode (no login screen)', async () => {
    expect((await burrow.cli(['secret', 'grant', 'openai', ttyBox])).code).toBe(0);
    const codex = await onTerminal(
      [{ wait: 'YOLO mode', within: 300 }, { wait: 'Ask Codex to do anything', within: 60 }, { type: DETACH }, { wait: 'detached', within: 30 }],
      ['agent', ttyBox, 'codex'],
    );
    expect(codex.met.every((t) => t !== null), codex.shown.slice(-3000)).toBe(true);
    expect(codex.code).toBe(0);
    // As pty-driver.py reads the screen: escape sequences as spaces.
    const words = codex.shown.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ' ').replace(/[ \t]+/g, ' ');
    expect(words).toContain('Ask Codex to do anything');
    expect(words).not.toContain('Sign in with ChatGPT');
  }, 300_000);
});
