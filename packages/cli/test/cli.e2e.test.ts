/**
 * The built `burrow` binary against a fake API server: what a user types, what they see, and
 * the exit code their shell gets.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeBurrow } from '../../sdk/test/fake-burrow.js';
import { bin, buildCli, emptyHome, runBurrow, type RunOptions } from './burrow-binary.js';

const home = emptyHome();
afterAll(() => rmSync(home, { recursive: true, force: true }));

const burrow = (args: string[], options: RunOptions = {}) => runBurrow(args, home, options);

beforeAll(buildCli, 120_000);

describe('burrow CLI against a fake server', () => {
  let fake: FakeBurrow;
  let api: string[];
  beforeEach(async () => {
    fake = await FakeBurrow.start();
    api = ['--api', fake.url, '--token', fake.token];
  });
  afterEach(() => fake.close());

  describe('exec', () => {
    beforeEach(() => {
      fake.addSprite('dev');
    });

    it('streams stdout and stderr to ours and exits with the command’s code', async () => {
      const run = await burrow([...api, 'exec', 'dev', '--', 'mixed']);
      expect(run).toEqual({ code: 3, stdout: 'out 1\nout 2\n', stderr: 'err 1\nerr 2\n' });
    });

    it('pipes our stdin through and then sends EOF', async () => {
      const run = await burrow([...api, 'exec', 'dev', '--', 'cat'], { input: 'piped input\nline 2\n' });
      expect(run).toEqual({ code: 0, stdout: 'piped input\nline 2\n', stderr: '' });
      expect(fake.sessions[0]?.stdinEof).toBe(true);
    });

    it('passes options after `--` to the command, with --env and --dir for the sandbox', async () => {
      const run = await burrow([...api, 'exec', 'dev', '--env', 'A=1', '--env', 'B=c=d', '--dir', '/srv', '--', 'echo', '-n', '--dir']);
      expect(run).toEqual({ code: 0, stdout: '-n --dir\n', stderr: '' });
      const params = fake.sessions[0]?.url.searchParams;
      expect(params?.getAll('cmd')).toEqual(['echo', '-n', '--dir']);
      expect(params?.getAll('env')).toEqual(['A=1', 'B=c=d']);
      expect(params?.get('dir')).toBe('/srv');
    });

    it('carries large output intact', async () => {
      const run = await burrow([...api, 'exec', 'dev', '--', 'bytes', String(4 * 1024 * 1024)]);
      expect(run.code).toBe(0);
      expect(run.stdout.length).toBe(4 * 1024 * 1024);
    });

    it('takes the API and token from BURROW_API and BURROW_TOKEN', async () => {
      const run = await burrow(['exec', 'dev', '--', 'echo', 'hi'], { env: { BURROW_API: fake.url, BURROW_TOKEN: fake.token } });
      expect(run).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
    });

    it('reports an unknown sandbox in one line, without a stack trace, and exits 1', async () => {
      const run = await burrow([...api, 'exec', 'ghost', '--', 'echo']);
      expect(run).toEqual({ code: 1, stdout: '', stderr: "burrow: sandbox 'ghost' does not exist\n" });
    });

    it('exits with the command even while our stdin is still open', async () => {
      const run = await burrow([...api, 'exec', 'dev', '--', 'echo', 'done'], { input: 'unread', keepStdinOpen: true });
      expect(run).toEqual({ code: 0, stdout: 'done\n', stderr: '' });
    });

    it('reports a lost connection and exits 1, even while our stdin is still open', async () => {
      const run = await burrow([...api, 'exec', 'dev', '--', 'hangup'], { keepStdinOpen: true });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('partial\n');
      expect(run.stderr).toBe("burrow: exec in sandbox 'dev' lost its connection before the command exited (close code 1011: sandbox died)\n");
    });

    it('forwards Ctrl-C to the command instead of dying', async () => {
      const child = spawn(process.execPath, [bin, ...api, 'exec', 'dev', '--', 'sleep'], { env: { PATH: process.env.PATH, BURROW_HOME: home } });
      const stderr: Buffer[] = [];
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      child.stdout.resume();
      child.stdin.end();
      while (fake.sessions.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      child.kill('SIGINT');
      const [code] = (await once(child, 'exit')) as [number];
      expect(code).toBe(143);
      expect(fake.sessions[0]?.signals).toEqual(['SIGINT']);
      expect(Buffer.concat(stderr).toString()).toBe('got SIGINT\n');
    });

    it('stops quietly when the reader of its output goes away (`| head`)', async () => {
      const child = spawn(process.execPath, [bin, ...api, 'exec', 'dev', '--', 'bytes', String(8 * 1024 * 1024)], {
        env: { PATH: process.env.PATH, BURROW_HOME: home },
      });
      const stderr: Buffer[] = [];
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      child.stdin.end();
      await once(child.stdout, 'data');
      child.stdout.destroy();
      const [code] = (await once(child, 'exit')) as [number];
      expect(Buffer.concat(stderr).toString()).toBe('');
      expect(code).toBe(0);
    });

    it('hints at `--` when the command’s options were taken for ours', async () => {
      const run = await burrow([...api, 'exec', 'dev', 'ls', '-la']);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("burrow: unknown option '-la'");
      expect(run.stderr).toContain('put `--` before the command');
    });
  });

  it('says how to start burrow when nothing is listening', async () => {
    const url = fake.url;
    await fake.close();
    const run = await burrow(['--api', url, '--token', 't', 'list']);
    expect(run).toEqual({ code: 1, stdout: '', stderr: `burrow: cannot reach burrow at ${url} (ECONNREFUSED): is \`burrow serve\` running?\n` });
    fake = await FakeBurrow.start();
  });

  it('says how to pass a token when there is none', async () => {
    const run = await burrow(['--api', fake.url, 'list']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^burrow: no burrow API token: set BURROW_TOKEN or pass one \(--token/);
  });

  it('creates a sandbox with the options given, and says how long it took', async () => {
    const run = await burrow([...api, 'create', 'dev', '--runtime', 'runc', '--image', 'minimal', '--cpus', '2', '--ram-mb', '1024', '--env', 'A=1', '--env', 'B=2']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^created dev in \d+\.\d\d s \(runc: shares the host kernel\)\nstatus running, image minimal\n$/);
    expect(JSON.parse(fake.requests[0]?.body ?? '')).toEqual({
      name: 'dev',
      runtime: 'runc',
      image: 'minimal',
      config: { cpus: 2, ram_mb: 1024 },
      environment: { A: '1', B: '2' },
    });
  });

  it('rejects bad option values before calling the API', async () => {
    const run = await burrow([...api, 'create', 'dev', '--cpus', 'two']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("burrow: option '--cpus <n>' argument 'two' is invalid. expected a number above 0, got 'two'");
    expect(fake.requests).toHaveLength(0);
  });

  it('lists sandboxes as a table for people and as JSON for scripts', async () => {
    fake.addSprite('alpha');
    fake.addSprite('beta', { runtime: 'runc', status: 'warm' });
    fake.addSprite('gamma', { image: 'minimal' });
    const table = await burrow([...api, 'list']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+STATUS\s+RUNTIME\s+IMAGE\s+CREATED$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 4))).toEqual([
      ['alpha', 'running', 'gvisor', 'dev'],
      ['beta', 'warm', 'runc', 'dev'],
      ['gamma', 'running', 'gvisor', 'minimal'],
    ]);
    const json = await burrow([...api, 'list', '--json', '--prefix', 'b']);
    expect((JSON.parse(json.stdout) as Array<{ name: string }>).map((s) => s.name)).toEqual(['beta']);
  });

  it('shows one sandbox with its isolation sentence', async () => {
    fake.addSprite('dev', { environment: { SECRET: 'hunter2' } });
    const run = await burrow([...api, 'info', 'dev']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^isolation\s+gVisor: a user-space kernel between the box and the host$/m);
    expect(run.stdout).toMatch(/^environment\s+SECRET$/m);
    expect(run.stdout).not.toContain('hunter2');
  });

  it('destroys a sandbox, also as `rm`', async () => {
    fake.addSprite('one');
    fake.addSprite('two');
    expect(await burrow([...api, 'destroy', 'one'])).toEqual({ code: 0, stdout: 'destroyed one\n', stderr: '' });
    expect(await burrow([...api, 'rm', 'two'])).toEqual({ code: 0, stdout: 'destroyed two\n', stderr: '' });
    expect(fake.sprites.size).toBe(0);
  });
});

describe('burrow checkpoint, restore and fork against a fake server', () => {
  let fake: FakeBurrow;
  let api: string[];
  beforeEach(async () => {
    fake = await FakeBurrow.start();
    api = ['--api', fake.url, '--token', fake.token];
    fake.addSprite('dev');
  });
  afterEach(() => fake.close());

  it('creates a checkpoint with a comment, printing progress on stderr and how long it took', async () => {
    const run = await burrow([...api, 'checkpoint', 'create', 'dev', '-m', 'before refactor']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^created checkpoint v1 of dev in \d+\.\d\d s\n$/);
    expect(run.stderr).toContain('frozen for 12 ms');
    expect(fake.checkpoints.get('dev')?.[0]).toMatchObject({ id: 'v1', comment: 'before refactor', memory: false });
  });

  it('asks for the running processes too with --memory, and shows that the checkpoint holds them', async () => {
    const run = await burrow([...api, 'checkpoint', 'create', 'dev', '--memory']);
    expect(run.code).toBe(0);
    expect(fake.checkpoints.get('dev')?.[0]).toMatchObject({ id: 'v1', memory: true });
    const info = await burrow([...api, 'checkpoint', 'info', 'dev', 'v1']);
    expect(info.stdout).toMatch(/memory\s+yes: a restore or fork resumes its processes/);
  });

  it('lists checkpoints as a table, automatic ones only with --all, and as JSON', async () => {
    await burrow([...api, 'restore', 'dev', 'v0']);
    const table = await burrow([...api, 'checkpoint', 'list', 'dev']);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+CREATED\s+SIZE\s+FROM\s+MEMORY\s+COMMENT$/);
    expect(table.stdout).not.toContain('auto-1');
    const all = await burrow([...api, 'checkpoint', 'list', 'dev', '--all', '--json']);
    expect((JSON.parse(all.stdout) as Array<{ id: string }>).map((c) => c.id)).toEqual(['auto-1', 'v0']);
  });

  it('shows one checkpoint, and fails with the server message for an unknown one', async () => {
    const info = await burrow([...api, 'checkpoint', 'info', 'dev', 'v0']);
    expect(info.stdout).toMatch(/^id\s+v0$/m);
    const missing = await burrow([...api, 'checkpoint', 'info', 'dev', 'v7']);
    expect(missing).toMatchObject({ code: 1, stderr: "burrow: sandbox 'dev' has no checkpoint 'v7'\n" });
  });

  it('restores, deletes and forks, saying how long each took', async () => {
    expect((await burrow([...api, 'restore', 'dev', 'v0'])).stdout).toMatch(/^restored dev to v0 in \d+\.\d\d s\n$/);
    await burrow([...api, 'checkpoint', 'create', 'dev']);
    await burrow([...api, 'checkpoint', 'create', 'dev']);
    expect((await burrow([...api, 'checkpoint', 'delete', 'dev', 'v1'])).stdout).toMatch(/^deleted checkpoint v1 of dev in /);
    const refused = await burrow([...api, 'checkpoint', 'delete', 'dev', 'v2']);
    expect(refused.code).toBe(1);
    expect((await burrow([...api, 'fork', 'dev', 'v0', 'dev-2'])).stdout).toMatch(/^forked dev v0 into dev-2 in \d+\.\d\d s\n$/);
    expect(fake.sprites.has('dev-2')).toBe(true);
  });
});
