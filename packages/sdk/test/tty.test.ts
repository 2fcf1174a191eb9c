import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BurrowClient } from '../src/client.js';
import { BurrowError } from '../src/errors.js';
import type { ExecMessage } from '../src/exec-socket.js';
import type { Sandbox } from '../src/sandbox.js';
import type { TerminalProcess } from '../src/tty.js';
import { until } from '../../../test/support/until.js';
import { FakeBurrow } from './fake-burrow.js';

/** The fake answers in microseconds: look often, give up soon. */
const SOON = { timeoutMs: 5000, intervalMs: 5 };

/** Everything the terminal showed, as text. */
function screen(child: TerminalProcess): () => string {
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks).toString();
}

describe('spawn on a terminal (spec §3.3-§3.5)', () => {
  let fake: FakeBurrow;
  let sandbox: Sandbox;
  beforeEach(async () => {
    fake = await FakeBurrow.start();
    fake.addSprite('dev');
    sandbox = new BurrowClient({ baseURL: fake.url, token: fake.token }).sandbox('dev');
  });
  afterEach(() => fake.close());

  it('asks for a terminal of the given size and passes raw bytes both ways', async () => {
    const child = sandbox.spawn('bash', ['-l'], { tty: { rows: 30, cols: 100 }, cwd: '/srv' });
    const shown = screen(child);
    child.stdin.write('stty size\r');
    child.stdin.write('exit 3\r');
    expect(await child.wait()).toBe(3);
    expect(shown()).toBe('$ stty size\r\n30 100\r\n$ exit 3\r\n');
    const [session] = fake.sessions;
    expect([...(session?.url.searchParams ?? [])]).toEqual([
      ['cmd', 'bash'],
      ['cmd', '-l'],
      ['path', 'bash'],
      ['stdin', 'true'],
      ['dir', '/srv'],
      ['tty', 'true'],
      ['rows', '30'],
      ['cols', '100'],
    ]);
    // No stream-id prefix on a terminal.
    expect(Buffer.concat(session?.stdin ?? []).toString()).toBe('stty size\rexit 3\r');
    expect(child.exitCode).toBe(3);
  });

  it('leaves the size to the server with `tty: true`', async () => {
    const child = sandbox.spawn('bash', [], { tty: true });
    const shown = screen(child);
    child.stdin.end('stty size\r\x04');
    expect(await child.wait()).toBe(0);
    expect(shown()).toContain('24 80\r\n');
    expect(fake.sessions[0]?.url.searchParams.has('rows')).toBe(false);
  });

  it('knows its session id once session_info arrived', async () => {
    const child = sandbox.spawn('bash', [], { tty: true });
    child.stdout.resume();
    expect(child.sessionId).toBeUndefined();
    const info = await child.waitForSession();
    expect(info).toMatchObject({ type: 'session_info', session_id: '1', tty: true, rows: 24, cols: 80, command: 'bash' });
    expect(child.sessionId).toBe('1');
    child.kill('SIGKILL');
    expect(await child.wait()).toBe(137);
  });

  it('sends resize messages, and refuses sizes that are not whole numbers', async () => {
    const child = sandbox.spawn('bash', [], { tty: { rows: 24, cols: 80 } });
    const shown = screen(child);
    child.resize(132, 50);
    child.stdin.write('stty size\r');
    await until('the new size on the screen', () => shown().includes('50 132'), SOON);
    expect(fake.sessions[0]?.resizes).toEqual([{ rows: 50, cols: 132 }]);
    expect(() => child.resize(0, 10)).toThrow(RangeError);
    expect(() => child.resize(80.5, 10)).toThrow(RangeError);
    child.stdin.write('exit\r');
    expect(await child.wait()).toBe(0);
  });

  it('kill() sends signal messages, SIGTERM by default', async () => {
    const child = sandbox.spawn('bash', [], { tty: true });
    const shown = screen(child);
    child.kill('SIGINT');
    await until('^C on the screen', () => shown().includes('^C'), SOON);
    child.kill();
    expect(await child.wait()).toBe(143);
    expect(fake.sessions[0]?.signals).toEqual(['SIGINT', 'SIGTERM']);
  });

  it('takes the exit code from the close code when no exit message came: 1000 is 0, 4000+N is N, others 1', async () => {
    for (const [close, code] of [
      [1000, 0],
      [4005, 5],
      [4255, 255],
      [1011, 1],
    ] as const) {
      const child = sandbox.spawn('closecode', [String(close)], { tty: true });
      const shown = screen(child);
      expect(await child.wait()).toBe(code);
      expect(shown()).toBe('bye\r\n');
    }
  });

  it('rejects when the connection drops without a close frame, after delivering what arrived', async () => {
    const child = sandbox.spawn('drop', [], { tty: true });
    const shown = screen(child);
    await expect(child.wait()).rejects.toThrow(/lost its connection before the command exited \(close code 1006\); session '1' may still be running/);
    expect(shown()).toBe('partial\r\n');
  });

  it('ignores keepalives and hands every other text frame to `message` listeners', async () => {
    const child = sandbox.spawn('chatty', [], { tty: true });
    const shown = screen(child);
    const messages: ExecMessage[] = [];
    child.on('message', (message) => messages.push(message));
    expect(await child.wait()).toBe(7);
    expect(shown()).toBe('real\r\n');
    expect(messages).toEqual([
      { type: 'port_opened', port: 8080, address: '0.0.0.0', pid: 7 },
      { type: 'error', message: 'ignored resize' },
      'not json',
    ]);
  });

  it('surfaces a refused upgrade as a BurrowError', async () => {
    const child = new BurrowClient({ baseURL: fake.url, token: fake.token }).sandbox('ghost').spawn('bash', [], { tty: true });
    const err = await child.wait().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BurrowError);
    expect(err).toMatchObject({ status: 404, code: 'sandbox_not_found' });
  });
});
