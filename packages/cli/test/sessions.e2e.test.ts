/**
 * `burrow console` and `burrow sessions` as built binaries against the fake server: a pipe on
 * stdin (as in scripts), and, where a python3 is at hand, a real pseudo-terminal.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BurrowClient } from '../../sdk/src/client.js';
import type { Sandbox } from '../../sdk/src/sandbox.js';
import { FakeBurrow } from '../../sdk/test/fake-burrow.js';
import { bin, buildCli, emptyHome, runBurrow, startBurrow, type RunOptions } from './burrow-binary.js';

const home = emptyHome();
afterAll(() => rmSync(home, { recursive: true, force: true }));
beforeAll(buildCli, 120_000);

const DETACH = '\x1c';

describe('consoles and sessions from the CLI', () => {
  let fake: FakeBurrow;
  let api: string[];
  let sandbox: Sandbox;
  const burrow = (args: string[], options: RunOptions = {}) => runBurrow([...api, ...args], home, options);
  beforeEach(async () => {
    fake = await FakeBurrow.start();
    fake.addSprite('dev');
    api = ['--api', fake.url, '--token', fake.token];
    sandbox = new BurrowClient({ baseURL: fake.url, token: fake.token }).sandbox('dev');
  });
  afterEach(() => fake.close());

  describe('console', () => {
    it('runs a login shell on a terminal as a detachable session and exits with its code', async () => {
      const run = await burrow(['console', 'dev'], { input: 'echo hi\rexit 3\r', keepStdinOpen: true });
      expect(run).toEqual({ code: 3, stdout: '$ echo hi\r\nhi\r\n$ exit 3\r\n', stderr: '' });
      const params = fake.sessions[0]?.url.searchParams;
      expect(params?.getAll('cmd')).toEqual(['bash', '-l']);
      expect(params?.get('tty')).toBe('true');
      expect(params?.get('detachable')).toBe('true');
      // No terminal here, so no size: the server's default applies.
      expect(params?.has('rows')).toBe(false);
    });

    it('types Ctrl-D when piped input ends, so the shell finishes like `bash < file`', async () => {
      const run = await burrow(['console', 'dev'], { input: 'echo hi\r' });
      expect(run).toEqual({ code: 0, stdout: '$ echo hi\r\nhi\r\n$ exit\r\n', stderr: '' });
    });

    it('detaches on Ctrl+\\, leaving the shell running, and says how to come back', async () => {
      const shell = startBurrow([...api, 'console', 'dev'], home);
      shell.type('echo one\r');
      await shell.waitFor('one\r\n$ ');
      shell.type(`${DETACH}exit 9\r`);
      expect(await shell.result).toEqual({
        code: 0,
        stdout: '$ echo one\r\none\r\n$ ',
        stderr: 'detached from session 1; re-attach with: burrow sessions attach dev 1\n',
      });
      const session = fake.sessions[0];
      // Nothing typed after the detach key was sent.
      expect(Buffer.concat(session?.stdin ?? []).toString()).toBe('echo one\r');
      expect(session?.exitCode).toBeNull();

      const again = await burrow(['sessions', 'attach', 'dev', '1'], { input: 'exit 4\r', keepStdinOpen: true });
      expect(again).toEqual({ code: 4, stdout: '$ echo one\r\none\r\n$ exit 4\r\n', stderr: '' });
    });

    it('with --no-detachable, passes Ctrl+\\ through to the command', async () => {
      const run = await burrow(['console', 'dev', '--no-detachable'], { input: `echo a${DETACH}b\rexit 2\r`, keepStdinOpen: true });
      expect(run.code).toBe(2);
      expect(run.stdout).toContain(`a${DETACH}b\r\n`);
      expect(fake.sessions[0]?.url.searchParams.has('detachable')).toBe(false);
    });

    it('runs the command given after `--`, with --dir and --max-run-after-disconnect', async () => {
      const run = await burrow(['console', 'dev', '--dir', '/srv', '--max-run-after-disconnect', '30m', '--', 'bash', '--norc'], {
        input: 'exit\r',
        keepStdinOpen: true,
      });
      expect(run.code).toBe(0);
      const params = fake.sessions[0]?.url.searchParams;
      expect(params?.getAll('cmd')).toEqual(['bash', '--norc']);
      expect(params?.get('dir')).toBe('/srv');
      expect(params?.get('max_run_after_disconnect')).toBe('30m');
    });

    it('reports a lost connection with the way back to the session, and exits 1', async () => {
      const run = await burrow(['console', 'dev', '--', 'drop'], { keepStdinOpen: true });
      expect(run).toEqual({
        code: 1,
        stdout: 'partial\r\n',
        stderr:
          "burrow: exec in sandbox 'dev' lost its connection before the command exited (close code 1006); session '1' may still be running\n" +
          're-attach with: burrow sessions attach dev 1\n',
      });
    });

    it('reports an unknown sandbox in one line and exits 1', async () => {
      const run = await burrow(['console', 'ghost']);
      expect(run).toEqual({ code: 1, stdout: '', stderr: "burrow: sandbox 'ghost' does not exist\n" });
    });
  });

  describe('sessions', () => {
    it('lists sessions as a table for people and as JSON for scripts', async () => {
      expect(await burrow(['sessions', 'list', 'dev'])).toEqual({
        code: 0,
        stdout: 'no sessions in dev: start one with `burrow console dev`\n',
        stderr: '',
      });
      await (await sandbox.createSession('bash')).detach();
      const job = await sandbox.createSession('mixed', [], { tty: false });
      job.stdout.resume();
      job.stderr.resume();
      await job.wait();

      const table = await burrow(['sessions', 'list', 'dev']);
      expect(table.code).toBe(0);
      const lines = table.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^ID\s+COMMAND\s+TTY\s+ACTIVE\s+CREATED$/);
      expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 4))).toEqual([
        ['1', 'bash', 'yes', 'yes'],
        ['2', 'mixed', 'no', 'no'],
      ]);
      const json = JSON.parse((await burrow(['sessions', 'ls', 'dev', '--json'])).stdout) as Array<{ id: string; tty: boolean }>;
      expect(json.map(({ id, tty }) => ({ id, tty }))).toEqual([
        { id: '1', tty: true },
        { id: '2', tty: false },
      ]);
    });

    it('attaches to a session without a terminal by streaming its stdout and stderr, and exits with its code', async () => {
      const job = await sandbox.createSession('mixed', [], { tty: false });
      job.stdout.resume();
      job.stderr.resume();
      await job.wait();
      expect(await burrow(['sessions', 'attach', 'dev', '1'])).toEqual({ code: 3, stdout: 'out 1\nout 2\n', stderr: 'err 1\nerr 2\n' });
    });

    it('detaches from an attached terminal on Ctrl+\\', async () => {
      await (await sandbox.createSession('bash')).detach();
      const attached = startBurrow([...api, 'sessions', 'attach', 'dev', '1'], home);
      attached.type('echo x\r');
      await attached.waitFor('x\r\n$ ');
      attached.type(`${DETACH}echo y\r`);
      expect(await attached.result).toEqual({
        code: 0,
        stdout: '$ echo x\r\nx\r\n$ ',
        stderr: 'detached from session 1; re-attach with: burrow sessions attach dev 1\n',
      });
      expect(fake.sessions[0]?.exitCode).toBeNull();
      expect(Buffer.concat(fake.sessions[0]?.stdin ?? []).toString()).toBe('echo x\r');
    });

    it('does not end an attached shell when piped input ends', async () => {
      await (await sandbox.createSession('bash')).detach();
      const attached = runBurrow([...api, 'sessions', 'attach', 'dev', '1'], home, { input: '' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(fake.sessions[0]?.exitCode).toBeNull();
      fake.sessions[0]?.exit(0);
      expect((await attached).code).toBe(0);
    });

    it('reports an unknown session and exits 1', async () => {
      expect(await burrow(['sessions', 'attach', 'dev', '99'])).toEqual({ code: 1, stdout: '', stderr: "burrow: sandbox 'dev' has no session '99'\n" });
    });

    it('kills a session, showing progress on stderr and the exit code on stdout', async () => {
      const job = await sandbox.createSession('sleep', [], { tty: false });
      job.stdout.resume();
      job.stderr.resume();
      const run = await burrow(['sessions', 'kill', 'dev', '1', '--signal', 'SIGINT', '--timeout', '5s']);
      expect(run).toEqual({ code: 0, stdout: 'session 1 exited with code 143\n', stderr: 'sent SIGINT to session 1\n' });
      expect(fake.requests.at(-1)?.url.search).toBe('?signal=SIGINT&timeout=5s');

      const again = await burrow(['sessions', 'kill', 'dev', '1']);
      expect(again).toEqual({ code: 1, stdout: '', stderr: "burrow: session '1' already ended with exit code 143\n" });
    });

    it('escalates to SIGKILL after the timeout', async () => {
      const job = await sandbox.createSession('stubborn', [], { tty: false });
      job.stdout.resume();
      job.stderr.resume();
      const run = await burrow(['sessions', 'kill', 'dev', '1', '--timeout', '50ms']);
      expect(run).toEqual({
        code: 0,
        stdout: 'session 1 exited with code 137\n',
        stderr: 'sent SIGTERM to session 1\nstill running after 50 ms\nsent SIGKILL\n',
      });
    });
  });

  // python3 drives the pseudo-terminal; .ci/run installs it, so these never silently skip.
  describe('on a real terminal', () => {
    const driver = fileURLToPath(new URL('./pty-driver.py', import.meta.url));
    type Step = { wait: string } | { type: string } | { resize: [number, number] };
    const onTerminal = (rows: number, cols: number, steps: Step[], args: string[]) =>
      new Promise<{ code: number; shown: string; restored: boolean }>((resolve, reject) => {
        const child = spawn('python3', [driver, String(rows), String(cols), JSON.stringify(steps), '--', process.execPath, bin, ...api, ...args], {
          env: { PATH: process.env.PATH, BURROW_HOME: home },
        });
        const out: Buffer[] = [];
        child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
        child.stderr.pipe(process.stderr);
        child.on('error', reject);
        child.on('close', () => resolve(JSON.parse(Buffer.concat(out).toString())));
      });

    it('goes raw, sends and follows the size, detaches on Ctrl+\\ and restores the terminal', async () => {
      const result = await onTerminal(
        30,
        100,
        [
          { wait: '$ ' },
          { type: 'stty size\r' },
          { wait: '30 100' },
          { resize: [50, 132] },
          { type: '\x03' },
          { wait: '\x03' },
          { type: '\rstty size\r' },
          { wait: '50 132' },
          { type: DETACH },
          { wait: 'detached' },
        ],
        ['console', 'dev'],
      );
      const session = fake.sessions[0];
      expect(session?.url.searchParams.get('rows')).toBe('30');
      expect(session?.url.searchParams.get('cols')).toBe('100');
      expect(session?.resizes).toEqual([{ rows: 50, cols: 132 }]);
      // Raw mode: Ctrl-C arrived as a byte for the remote terminal, not as a signal to us.
      expect(Buffer.concat(session?.stdin ?? []).includes(0x03)).toBe(true);
      expect(session?.signals).toEqual([]);
      expect(result.shown).toContain('detached from session 1; re-attach with: burrow sessions attach dev 1');
      expect(result.code).toBe(0);
      expect(result.restored).toBe(true);
      expect(session?.exitCode).toBeNull();
    });

    it('sends our size when attaching, and exits with the shell', async () => {
      await (await sandbox.createSession('bash', [], { rows: 24, cols: 80 })).detach();
      const result = await onTerminal(40, 120, [{ wait: '$ ' }, { type: 'stty size\r' }, { wait: '40 120' }, { type: 'exit 6\r' }], [
        'sessions',
        'attach',
        'dev',
        '1',
      ]);
      expect(fake.sessions[0]?.resizes).toEqual([{ rows: 40, cols: 120 }]);
      expect(result.code).toBe(6);
      expect(result.restored).toBe(true);
    });
  });
});
