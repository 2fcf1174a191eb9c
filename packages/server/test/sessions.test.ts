// Sessions with a fake process below them: fan-out, scrollback, detach timers, backpressure.
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import type { ExecHandle } from '../src/core/sandbox-manager.js';
import { Scrollback, type OutputChunk } from '../src/core/scrollback.js';
import { SessionRegistry, type SessionClient } from '../src/core/sessions.js';

function fakeProcess() {
  const child = Object.assign(new EventEmitter(), {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
  });
  const signals: string[] = [];
  const handle = {
    token: 't',
    child,
    signal: async (s: string) => {
      signals.push(s);
    },
    resize: async () => {},
    exited: new Promise((resolve) => child.once('close', (exitCode: number) => resolve({ exitCode }))),
  } as unknown as ExecHandle;
  return { child, handle, signals };
}

function recorder(congested = () => false) {
  const seen: OutputChunk[] = [];
  let exit: number | null = null;
  const client: SessionClient = { output: (c) => seen.push(c), exited: (code) => (exit = code), congested };
  return { client, seen, exitCode: () => exit };
}

const info = { sandbox: 'dev', command: ['bash'], workdir: '/home/user', tty: true, rows: 24, cols: 80 };

describe('a session', () => {
  it('sends output to every client and replays the scrollback to late ones', async () => {
    const { child, handle } = fakeProcess();
    const session = new SessionRegistry().add(info, handle, 0);
    const early = recorder();
    session.attach(early.client);
    child.stdout.write('one');
    await new Promise((r) => setImmediate(r));
    const late = recorder();
    session.attach(late.client);
    child.stdout.write('two');
    await new Promise((r) => setImmediate(r));
    expect(early.seen.map((c) => c.data.toString())).toEqual(['one', 'two']);
    expect(late.seen.map((c) => c.data.toString())).toEqual(['one', 'two']);
    child.emit('close', 3, null);
    await new Promise((r) => setImmediate(r));
    expect(early.exitCode()).toBe(3);
    const afterEnd = recorder();
    session.attach(afterEnd.client);
    expect(afterEnd.exitCode()).toBe(3);
    expect(afterEnd.seen).toHaveLength(2);
  });

  it('kills the command once nobody is attached for maxRunAfterDisconnect', async () => {
    vi.useFakeTimers();
    try {
      const { handle, signals } = fakeProcess();
      const session = new SessionRegistry().add({ ...info, tty: false }, handle, 10_000);
      const r = recorder();
      session.attach(r.client);
      session.detach(r.client);
      vi.advanceTimersByTime(9_000);
      session.attach(r.client); // re-attaching in time cancels the kill
      session.detach(r.client);
      vi.advanceTimersByTime(9_000);
      expect(signals).toEqual([]);
      vi.advanceTimersByTime(2_000);
      expect(signals).toEqual(['SIGKILL']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('pauses the command while a client is congested and resumes when it drains', async () => {
    const { child, handle } = fakeProcess();
    let full = true;
    const session = new SessionRegistry().add(info, handle, 0);
    session.attach(recorder(() => full).client);
    child.stdout.write('x');
    await new Promise((r) => setImmediate(r));
    expect(child.stdout.isPaused()).toBe(true);
    full = false;
    session.resumeIfClear();
    expect(child.stdout.isPaused()).toBe(false);
  });
});

describe('the scrollback', () => {
  it('keeps the newest bytes within its limit', () => {
    const s = new Scrollback(10);
    s.push({ stream: 1, data: Buffer.from('abcdef') });
    s.push({ stream: 2, data: Buffer.from('ghijkl') });
    expect(s.bytes).toBe(10);
    expect(Buffer.concat(s.snapshot().map((c) => c.data)).toString()).toBe('cdefghijkl');
    expect(s.snapshot().map((c) => c.stream)).toEqual([1, 2]);
  });
});
