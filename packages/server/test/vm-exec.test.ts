// Streamed commands of the `vm` runtime, host side: GuestProcess and GuestChannel against a fake
// bridge that speaks the frame protocol over a unix socket. The real bridge is tested under TCG
// in test/integration/vm-exec.test.ts.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FRAME } from '../src/runtime/vm/frames.js';
import { GuestChannel, OUTPUT_WINDOW, STDIN_WINDOW } from '../src/runtime/vm/guest-channel.js';
import { GuestProcess, runInGuest } from '../src/runtime/vm/guest-process.js';
import { VmRuntime } from '../src/runtime/vm-runtime.js';
import { until } from '../../../test/support/until.js';
import { FakeBridge } from './fake-bridge.js';

/** EXEC's payload read back: what the bridge will execve. */
function decodeExec(payload: Buffer) {
  const [uid, gid, argc, envc] = [0, 4, 8, 12].map((at) => payload.readUInt32LE(at));
  const strings = payload.subarray(16).toString().split('\0').slice(0, -1);
  return { uid, gid, cwd: strings[0], args: strings.slice(1, 1 + argc!), env: strings.slice(1 + argc!, 1 + argc! + envc!) };
}

/** Waits for what the fake bridge or the process does next; the condition's source says what it waits for. */
const soon = <T>(read: () => T) => until(read.toString(), read, { intervalMs: 5, timeoutMs: 5_000 });

const COMMAND = { args: ['/bin/cat'], env: ['PATH=/bin', 'A=b c'], cwd: '/root', uid: 0, gid: 0 };

describe('a command in a vm guest, host side', () => {
  let dir: string;
  let bridge: FakeBridge;
  let channel: Promise<GuestChannel>;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'burrow-vm-exec-'));
    bridge = await FakeBridge.start(dir);
    channel = GuestChannel.connect(bridge.path, 5_000);
  });

  /** A command whose 'error' at teardown (the channel closes under it) is expected. */
  function start(command: typeof COMMAND, through = channel): GuestProcess {
    const child = new GuestProcess(through, command);
    child.on('error', () => {});
    return child;
  }

  afterEach(async () => {
    (await channel.catch(() => null))?.close();
    await bridge.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('sends the exact environment, directory, uid and gid, and reports the guest pid on spawn', async () => {
    const child = start({ ...COMMAND, args: ['/usr/bin/id', '-u'], uid: 1000, gid: 1001 });
    await soon(() => bridge.framesOf(FRAME.EXEC).length === 1);
    const exec = bridge.framesOf(FRAME.EXEC)[0]!;
    expect(decodeExec(exec.payload)).toEqual({ uid: 1000, gid: 1001, cwd: '/root', args: ['/usr/bin/id', '-u'], env: ['PATH=/bin', 'A=b c'] });
    const spawned = new Promise((resolve) => child.once('spawn', resolve));
    bridge.u32(FRAME.STARTED, exec.id, 42);
    await spawned;
    expect(child.pid).toBe(42);
  });

  it('refuses an environment entry without a name, as an error event rather than a throw', async () => {
    const child = start({ ...COMMAND, env: ['=oops'] });
    const error = await new Promise<Error>((resolve) => child.once('error', resolve));
    expect(error.message).toMatch(/NAME=VALUE/);
  });

  it('streams stdin to the guest and its output back chunk by chunk, before the command ends', async () => {
    const child = start(COMMAND);
    await soon(() => bridge.framesOf(FRAME.EXEC).length === 1);
    const id = bridge.framesOf(FRAME.EXEC)[0]!.id;
    const seen: string[] = [];
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => seen.push(text));
    for (const word of ['one ', 'two ', 'three']) {
      child.stdin.write(word);
      await soon(() => bridge.stdinBytes().toString().endsWith(word));
      bridge.send(FRAME.STDOUT, id, Buffer.from(word.toUpperCase()));
      await soon(() => seen.join('').endsWith(word.toUpperCase()));
    }
    child.stdin.end();
    await soon(() => bridge.framesOf(FRAME.STDIN_EOF).length === 1);
    expect(child.exitCode).toBeNull();
  });

  it('emits exit, then close once both output streams have ended, with every byte before them', async () => {
    const child = start(COMMAND);
    const events: string[] = [];
    child.stdout.on('data', (b: Buffer) => events.push(`stdout ${b}`));
    child.stderr.on('data', (b: Buffer) => events.push(`stderr ${b}`));
    child.stdout.on('end', () => events.push('stdout end'));
    child.stderr.on('end', () => events.push('stderr end'));
    child.on('exit', (code, signal) => events.push(`exit ${code} ${signal}`));
    const closed = new Promise((resolve) => child.on('close', (code, signal) => resolve([code, signal])));
    await soon(() => bridge.framesOf(FRAME.EXEC).length === 1);
    const id = bridge.framesOf(FRAME.EXEC)[0]!.id;
    bridge.send(FRAME.STDOUT, id, Buffer.from('out'));
    bridge.send(FRAME.STDERR, id, Buffer.from('err'));
    bridge.exit(id, 3);
    expect(await closed).toEqual([3, null]);
    expect(events.slice(0, 3)).toEqual(['stdout out', 'stderr err', 'exit 3 null']);
    expect(events.slice(3).sort()).toEqual(['stderr end', 'stdout end']);
    expect(child.exitCode).toBe(3);
  });

  it('drains an output stream nobody reads once the command exits, so that close comes, as Node does', async () => {
    const child = start(COMMAND);
    const out: string[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b.toString()));
    const closed = new Promise((resolve) => child.on('close', (code) => resolve(code)));
    await soon(() => bridge.framesOf(FRAME.EXEC).length === 1);
    const id = bridge.framesOf(FRAME.EXEC)[0]!.id;
    bridge.send(FRAME.STDERR, id, Buffer.from('never read'));
    bridge.send(FRAME.STDOUT, id, Buffer.from('read'));
    bridge.exit(id, 0);
    expect(await closed).toBe(0);
    expect(out).toEqual(['read']);
  });

  it('sends kill as the signal number and reports death by signal as Node does (exitCode null, signalCode)', async () => {
    const child = start(COMMAND);
    child.stdout.resume();
    child.stderr.resume();
    await soon(() => bridge.framesOf(FRAME.EXEC).length === 1);
    const id = bridge.framesOf(FRAME.EXEC)[0]!.id;
    expect(child.kill('SIGTERM')).toBe(true);
    await soon(() => bridge.framesOf(FRAME.KILL).length === 1);
    expect(bridge.framesOf(FRAME.KILL)[0]!.payload.readUInt32LE(0)).toBe(15);
    const closed = new Promise((resolve) => child.on('close', (code, signal) => resolve([code, signal])));
    bridge.exit(id, 128 + 15, 15);
    expect(await closed).toEqual([null, 'SIGTERM']);
    expect([child.exitCode, child.signalCode]).toEqual([null, 'SIGTERM']);
    expect(child.kill('SIGKILL')).toBe(false);
  });

  it('queues stdin, end and kill made before the channel connected, and sends them in order once it has', async () => {
    let connect!: () => void;
    const later = new Promise<void>((resolve) => (connect = resolve)).then(() => channel);
    const child = start(COMMAND, later);
    child.stdin.write('early');
    child.stdin.end();
    child.kill('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(bridge.framesOf(FRAME.EXEC)).toEqual([]);
    connect();
    await soon(() => bridge.framesOf(FRAME.KILL).length === 1 && bridge.framesOf(FRAME.STDIN_EOF).length === 1);
    // HELLO first: the bridge ends what a host before this one left running.
    expect(bridge.received.map((f) => f.type)).toEqual([FRAME.HELLO, FRAME.EXEC, FRAME.STDIN, FRAME.STDIN_EOF, FRAME.KILL]);
    expect(bridge.stdinBytes().toString()).toBe('early');
  });

  it('sends no more stdin than the guest has credited, and completes writes as it credits more', async () => {
    const child = start(COMMAND);
    await soon(() => bridge.framesOf(FRAME.EXEC).length === 1);
    const id = bridge.framesOf(FRAME.EXEC)[0]!.id;
    const input = Buffer.alloc(STDIN_WINDOW * 3, 7);
    let written = false;
    child.stdin.write(input, () => (written = true));
    await soon(() => bridge.stdinBytes().length === STDIN_WINDOW);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(bridge.stdinBytes().length).toBe(STDIN_WINDOW);
    expect(written).toBe(false);
    // The guest wrote a little to its command: exactly that much more comes.
    bridge.u32(FRAME.STDIN_ACK, id, 1000);
    await soon(() => bridge.stdinBytes().length === STDIN_WINDOW + 1000);
    // The command reads the rest: the guest credits what it has received as it writes it.
    let acked = 1000;
    await soon(() => {
      const sent = bridge.stdinBytes().length;
      if (sent > acked) bridge.u32(FRAME.STDIN_ACK, id, sent - acked);
      acked = sent;
      return written;
    });
    // The write completed when its last frame was handed to the socket; it arrives a moment later.
    await soon(() => bridge.stdinBytes().length === input.length);
    expect(bridge.stdinBytes().equals(input)).toBe(true);
  });

  it('acknowledges output only as its consumer takes it, so a paused stream holds the guest back', async () => {
    const child = start(COMMAND);
    await soon(() => bridge.framesOf(FRAME.EXEC).length === 1);
    const id = bridge.framesOf(FRAME.EXEC)[0]!.id;
    const chunk = Buffer.alloc(64 * 1024, 1);
    const chunks = OUTPUT_WINDOW / chunk.length;
    for (let i = 0; i < chunks; i++) bridge.send(FRAME.STDOUT, id, chunk);
    await soon(() => child.stdout.readableLength === OUTPUT_WINDOW);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Nothing read yet: at most what fits under the stream's mark was acknowledged.
    expect(bridge.outputAcked()[0]).toBeLessThan(OUTPUT_WINDOW);
    let read = 0;
    child.stdout.on('data', (b: Buffer) => (read += b.length));
    await soon(() => read === OUTPUT_WINDOW && bridge.outputAcked()[0] === OUTPUT_WINDOW);
    expect(bridge.outputAcked()[1]).toBe(0);
  });

  it('drops the channel of a guest that sends more output than it was credited', async () => {
    const child = start(COMMAND);
    const error = new Promise<Error>((resolve) => child.once('error', resolve));
    await soon(() => bridge.framesOf(FRAME.EXEC).length === 1);
    const id = bridge.framesOf(FRAME.EXEC)[0]!.id;
    const chunk = Buffer.alloc(64 * 1024, 1);
    for (let i = 0; i <= OUTPUT_WINDOW / chunk.length; i++) bridge.send(FRAME.STDOUT, id, chunk);
    expect((await error).message).toMatch(/more output than/);
    expect(child.stdout.destroyed).toBe(true);
  });

  it('lets stdin be piped from a stream, with its backpressure, to the end', async () => {
    const child = start(COMMAND);
    await soon(() => bridge.framesOf(FRAME.EXEC).length === 1);
    const id = bridge.framesOf(FRAME.EXEC)[0]!.id;
    const parts = Array.from({ length: 40 }, (_, i) => Buffer.alloc(32 * 1024, i));
    Readable.from(parts).pipe(child.stdin);
    // A guest that acknowledges what it has been sent, as it writes it to the command.
    let acked = 0;
    let mostInFlight = 0;
    await soon(() => {
      const sent = bridge.stdinBytes().length;
      mostInFlight = Math.max(mostInFlight, sent - acked);
      if (sent > acked) bridge.u32(FRAME.STDIN_ACK, id, sent - acked);
      acked = sent;
      return bridge.framesOf(FRAME.STDIN_EOF).length === 1;
    });
    expect(mostInFlight).toBeLessThanOrEqual(STDIN_WINDOW);
    expect(bridge.stdinBytes().equals(Buffer.concat(parts))).toBe(true);
  });

  it('turns a command the guest could not start into error, then close, without spawn', async () => {
    const child = start(COMMAND);
    const events: string[] = [];
    child.on('spawn', () => events.push('spawn'));
    child.on('error', (e: Error) => events.push(`error ${e.message}`));
    const closed = new Promise((resolve) => child.on('close', resolve));
    await soon(() => bridge.framesOf(FRAME.EXEC).length === 1);
    bridge.send(FRAME.ERROR, bridge.framesOf(FRAME.EXEC)[0]!.id, Buffer.from('exec /bin/cat: No such file or directory'));
    await closed;
    expect(events).toEqual(['error the guest could not start the command: exec /bin/cat: No such file or directory']);
  });

  it('turns a lost channel into error, then close, for every command still running', async () => {
    const children = [start(COMMAND), start(COMMAND)];
    const outcomes = children.map(
      (child) =>
        new Promise<string[]>((resolve) => {
          const events: string[] = [];
          child.stdout.resume();
          child.on('error', (e: Error) => events.push(`error ${e.message}`));
          child.on('close', () => resolve([...events, 'close']));
        }),
    );
    await soon(() => bridge.framesOf(FRAME.EXEC).length === 2);
    bridge.drop();
    for (const events of await Promise.all(outcomes)) expect(events).toEqual(['error the channel to the guest closed', 'close']);
    // A write after the loss goes nowhere and throws nothing.
    children[0]!.stdin.write('late');
  });

  it('runs a command to completion, and kills one that outlasts its timeout', async () => {
    const done = runInGuest(channel, COMMAND, Buffer.from('in'));
    await soon(() => bridge.framesOf(FRAME.STDIN_EOF).length === 1);
    const id = bridge.framesOf(FRAME.EXEC)[0]!.id;
    bridge.send(FRAME.STDOUT, id, Buffer.from('out'));
    bridge.exit(id, 9, 9);
    expect(await done).toEqual({ code: 137, stdout: 'out', stderr: '' });

    const slow = runInGuest(channel, COMMAND, undefined, 200);
    await expect(slow).rejects.toThrow(/outlasted 200 ms/);
    await soon(() => bridge.framesOf(FRAME.KILL).length === 1);
    expect(bridge.framesOf(FRAME.KILL)[0]!.payload.readUInt32LE(0)).toBe(9);
  });

  it('connects afresh for the next command once the channel to a guest was lost', async () => {
    // The runtime finds a guest's socket at <root>/<id>/agent.sock: the fake bridge's is there.
    const runtime = new VmRuntime({ root: dir, host: () => Promise.reject(new Error('this test boots nothing')) });
    const id = 'guest';
    await mkdir(join(dir, id));
    const second = await FakeBridge.start(join(dir, id));
    try {
      const answer = async () => {
        await soon(() => second.framesOf(FRAME.EXEC).length > 0);
        const exec = second.received.splice(0).find((f) => f.type === FRAME.EXEC)!;
        second.send(FRAME.STDOUT, exec.id, Buffer.from('hi\n'));
        second.exit(exec.id, 0);
      };
      const command = { args: ['/bin/echo', 'hi'], env: [], cwd: '/', uid: 0, gid: 0 };
      const [first] = await Promise.all([runtime.run(id, command), answer()]);
      expect(first).toBe('hi\n');
      // A command running when the channel is lost fails; the one after it runs.
      const running = runtime.exec(id, command);
      const lost = new Promise<Error>((resolve) => running.once('error', resolve));
      await soon(() => second.framesOf(FRAME.EXEC).length > 0);
      second.received.splice(0);
      second.drop();
      expect((await lost).message).toMatch(/closed/);
      const [again] = await Promise.all([runtime.run(id, command), answer()]);
      expect(again).toBe('hi\n');
    } finally {
      runtime.close();
      await second.close();
    }
  });
});
