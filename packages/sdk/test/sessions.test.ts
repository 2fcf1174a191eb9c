import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BurrowClient } from '../src/client.js';
import { BurrowError, SessionDetachedError } from '../src/errors.js';
import type { Sandbox } from '../src/sandbox.js';
import type { KillEvent } from '@burrow/protocol';
import { until } from '../../../test/support/until.js';
import { FakeBurrow } from './fake-burrow.js';

/** The fake answers in microseconds: look often, give up soon. */
const SOON = { timeoutMs: 5000, intervalMs: 5 };

function collect(stream: Readable): () => string {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks).toString();
}

/** All of a stream, once it ended: data can still be on its way when wait() resolves. */
async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('detachable sessions (spec §3.8-§3.10)', () => {
  let fake: FakeBurrow;
  let sandbox: Sandbox;
  beforeEach(async () => {
    fake = await FakeBurrow.start();
    fake.addSprite('dev');
    sandbox = new BurrowClient({ baseURL: fake.url, token: fake.token }).sandbox('dev');
  });
  afterEach(() => fake.close());

  describe('createSession', () => {
    it('starts a detachable terminal and resolves once the server has named it', async () => {
      const session = await sandbox.createSession('bash', ['-l'], { rows: 40, cols: 120, maxRunAfterDisconnect: '30s' });
      expect(session.tty).toBe(true);
      expect(session.sessionId).toBe('1');
      const params = fake.sessions[0]?.url.searchParams;
      expect(params?.get('tty')).toBe('true');
      expect(params?.get('detachable')).toBe('true');
      expect(params?.get('rows')).toBe('40');
      expect(params?.get('cols')).toBe('120');
      expect(params?.get('max_run_after_disconnect')).toBe('30s');
      const shown = collect(session.stdout);
      session.stdin.write('exit 2\r');
      expect(await session.wait()).toBe(2);
      expect(shown()).toBe('$ exit 2\r\n');
    });

    it('sends a max_run_after_disconnect given in milliseconds as a duration', async () => {
      const session = await sandbox.createSession('bash', [], { maxRunAfterDisconnect: 1500 });
      expect(fake.sessions[0]?.url.searchParams.get('max_run_after_disconnect')).toBe('1500ms');
      await session.detach();
    });

    it('without a terminal, keeps stdout and stderr apart and exits with the 0x03 frame', async () => {
      const session = await sandbox.createSession('mixed', [], { tty: false });
      expect(session.tty).toBe(false);
      expect(session.sessionId).toBe('1');
      expect(fake.sessions[0]?.url.searchParams.has('tty')).toBe(false);
      expect(fake.sessions[0]?.url.searchParams.get('detachable')).toBe('true');
      const output = Promise.all([readAll(session.stdout), readAll(session.stderr)]);
      expect(await session.wait()).toBe(3);
      expect(await output).toEqual(['out 1\nout 2\n', 'err 1\nerr 2\n']);
    });

    it('rejects with the server’s refusal', async () => {
      const ghost = new BurrowClient({ baseURL: fake.url, token: fake.token }).sandbox('ghost');
      await expect(ghost.createSession('bash')).rejects.toMatchObject({ status: 404, code: 'sandbox_not_found' });
    });
  });

  describe('detach and attach', () => {
    it('detaching leaves the session running; attaching replays the scrollback, then live output', async () => {
      const first = await sandbox.createSession('bash');
      const firstScreen = collect(first.stdout);
      first.stdin.write('echo one\r');
      await until('the output of echo', () => firstScreen().includes('one\r\n$ '), SOON);
      await first.detach();
      await expect(first.wait()).rejects.toBeInstanceOf(SessionDetachedError);
      await expect(first.wait()).rejects.toThrow("detached from session '1' in sandbox 'dev'");
      const server = fake.sessions[0];
      await until('the server to see the detach', () => server?.clients.size === 0, SOON);
      expect(server?.exitCode).toBeNull();

      const again = await sandbox.attachSession('1');
      expect(again.tty).toBe(true);
      expect(again.sessionId).toBe('1');
      const shown = collect(again.stdout);
      await until('the scrollback', () => shown() === '$ echo one\r\none\r\n$ ', SOON);
      again.stdin.write('exit 4\r');
      expect(await again.wait()).toBe(4);
      expect(shown()).toBe('$ echo one\r\none\r\n$ exit 4\r\n');
    });

    it('detach() lets out what was written and signalled just before it', async () => {
      const session = await sandbox.createSession('bash');
      session.stdout.resume();
      session.stdin.write('echo z\r');
      session.kill('SIGHUP');
      await session.detach();
      const server = fake.sessions[0];
      await until('the session to end', () => server?.exitCode !== null, SOON);
      expect(Buffer.concat(server?.stdin ?? []).toString()).toBe('echo z\r');
      expect(server?.signals).toEqual(['SIGHUP']);
    });

    it('waitForSession() gives up on a command that sends no session_info', async () => {
      const plain = sandbox.spawn('sleep');
      plain.stdout.resume();
      plain.stderr.resume();
      await expect(plain.waitForSession(50)).rejects.toThrow("burrow sent no session_info within 0.05 s of opening exec in sandbox 'dev'");
      plain.kill();
      expect(await plain.wait()).toBe(143);
    });

    it('attaches with stdin=true and no command, to /exec/{id}', async () => {
      const session = await sandbox.createSession('bash');
      await session.detach();
      const attached = await sandbox.attachSession(session.sessionId);
      attached.stdout.resume();
      const [attach] = fake.sessions[0]?.attaches ?? [];
      expect(attach?.pathname).toBe('/v1/sprites/dev/exec/1');
      expect([...(attach?.searchParams ?? [])]).toEqual([['stdin', 'true']]);
      attached.kill('SIGKILL');
      expect(await attached.wait()).toBe(137);
    });

    it('attaches to an ended terminal session: scrollback, then its exit code', async () => {
      const session = await sandbox.createSession('bash');
      session.stdout.resume();
      session.stdin.write('echo bye\rexit 6\r');
      expect(await session.wait()).toBe(6);
      const late = await sandbox.attachSession('1');
      const shown = readAll(late.stdout);
      expect(await late.wait()).toBe(6);
      expect(await shown).toBe('$ echo bye\r\nbye\r\n$ exit 6\r\n');
    });

    it('takes the framing from session_info: a non-TTY session attaches with separate streams', async () => {
      const session = await sandbox.createSession('mixed', [], { tty: false });
      session.stdout.resume();
      session.stderr.resume();
      await session.wait();
      const late = await sandbox.attachSession('1');
      expect(late.tty).toBe(false);
      if (late.tty) throw new Error('expected a non-TTY handle');
      const output = Promise.all([readAll(late.stdout), readAll(late.stderr)]);
      expect(await late.wait()).toBe(3);
      expect(await output).toEqual(['out 1\nout 2\n', 'err 1\nerr 2\n']);
    });

    it('rejects an unknown session with a 404 BurrowError', async () => {
      const err = await sandbox.attachSession('99').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BurrowError);
      expect(err).toMatchObject({ status: 404, message: "sandbox 'dev' has no session '99'" });
    });

    it('rejects when the connection closes before session_info', async () => {
      await sandbox.createSession('bash').then((s) => s.detach());
      const server = fake.sessions[0];
      // The next attach is answered with a close before anything else.
      const attach = server!.attach.bind(server);
      server!.attach = (ws) => ws.close(1011, 'no');
      await expect(sandbox.attachSession('1')).rejects.toThrow("session '1' in sandbox 'dev' closed the connection (code 1011) before its session_info");
      server!.attach = attach;
    });
  });

  describe('listSessions', () => {
    it('lists the sandbox’s sessions with string ids', async () => {
      const shell = await sandbox.createSession('bash');
      const job = await sandbox.createSession('mixed', [], { tty: false });
      job.stdout.resume();
      job.stderr.resume();
      await job.wait();
      const sessions = await sandbox.listSessions();
      expect(sessions.map(({ id, command, tty, is_active }) => ({ id, command, tty, is_active }))).toEqual([
        { id: '1', command: 'bash', tty: true, is_active: true },
        { id: '2', command: 'mixed', tty: false, is_active: false },
      ]);
      expect(sessions[0]?.created).toBe('2025-01-01T12:00:00.000Z');
      await shell.detach();
    });

    it('accepts numeric ids and a missing list', async () => {
      fake.override = () => ({ status: 200, body: JSON.stringify({ sessions: [{ id: 1847, command: 'bash', tty: true }] }) });
      expect((await sandbox.listSessions()).map((s) => s.id)).toEqual(['1847']);
      fake.override = () => ({ status: 200, body: '{}' });
      expect(await sandbox.listSessions()).toEqual([]);
    });
  });

  describe('killSession', () => {
    it('signals the session and resolves with its exit code, reporting each NDJSON line', async () => {
      const session = await sandbox.createSession('sleep', [], { tty: false });
      session.stdout.resume();
      const stderr = collect(session.stderr);
      const events: KillEvent[] = [];
      expect(await sandbox.killSession('1', { signal: 'SIGINT', timeout: '5s', onEvent: (e) => events.push(e) })).toBe(143);
      expect(events.map((e) => e.type)).toEqual(['signal', 'exited', 'complete']);
      const kill = fake.requests.find((r) => r.url.pathname === '/v1/sprites/dev/exec/1/kill');
      expect(kill?.method).toBe('POST');
      expect([...(kill?.url.searchParams ?? [])]).toEqual([
        ['signal', 'SIGINT'],
        ['timeout', '5s'],
      ]);
      expect(await session.wait()).toBe(143);
      expect(stderr()).toBe('got SIGINT\n');
    });

    it('reports the SIGKILL that follows a timeout', async () => {
      const session = await sandbox.createSession('stubborn', [], { tty: false });
      session.stdout.resume();
      session.stderr.resume();
      const events: KillEvent[] = [];
      expect(await sandbox.killSession('1', { timeout: 50, onEvent: (e) => events.push(e) })).toBe(137);
      expect(events.map((e) => e.type)).toEqual(['signal', 'timeout', 'killed', 'complete']);
      expect(fake.requests.at(-1)?.url.searchParams.get('timeout')).toBe('50ms');
    });

    it('rejects with status 410 for a session that has already ended, and 404 for an unknown one', async () => {
      const session = await sandbox.createSession('bash');
      session.stdout.resume();
      session.stdin.write('exit\r');
      await session.wait();
      await expect(sandbox.killSession('1')).rejects.toMatchObject({ status: 410, message: "session '1' already ended with exit code 0" });
      await expect(sandbox.killSession('7')).rejects.toMatchObject({ status: 404 });
    });

    it('fails with the server’s error when no exit code came, skipping malformed lines', async () => {
      fake.override = () => ({
        status: 200,
        body: '{"type":"signal","signal":"SIGTERM"}\n\nnot json\n{"type":"error","message":"signal failed: no such process"}\n{"type":"complete","exit_code":null}',
      });
      await expect(sandbox.killSession('1')).rejects.toThrow("killing session '1' in sandbox 'dev' failed: signal failed: no such process");
    });
  });
});
