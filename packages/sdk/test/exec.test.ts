import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BurrowClient } from '../src/client.js';
import { BurrowConnectionError, BurrowError } from '../src/errors.js';
import type { Sandbox } from '../src/sandbox.js';
import { FakeBurrow, pattern } from './fake-burrow.js';

describe('exec over the WebSocket (spec §3)', () => {
  let fake: FakeBurrow;
  let sandbox: Sandbox;
  beforeEach(async () => {
    fake = await FakeBurrow.start();
    fake.addSprite('dev');
    sandbox = new BurrowClient({ baseURL: fake.url, token: fake.token }).sandbox('dev');
  });
  afterEach(() => fake.close());

  it('sends argv, path, env and dir as query parameters, with the bearer token on the upgrade', async () => {
    const result = await sandbox.exec('env', ['-0'], { env: { A: '1', B: 'x=y z' }, cwd: '/srv' });
    expect(result).toEqual({ stdout: 'A=1\nB=x=y z\n', stderr: '', exitCode: 0 });
    const [session] = fake.sessions;
    expect(session?.headers.authorization).toBe(`Bearer ${fake.token}`);
    expect(session?.url.pathname).toBe('/v1/sprites/dev/exec');
    expect([...(session?.url.searchParams ?? [])]).toEqual([
      ['cmd', 'env'],
      ['cmd', '-0'],
      ['path', 'env'],
      ['stdin', 'false'],
      ['env', 'A=1'],
      ['env', 'B=x=y z'],
      ['dir', '/srv'],
    ]);
  });

  it('keeps stdout and stderr apart, each in order, and reports the exit code', async () => {
    expect(await sandbox.exec('mixed')).toEqual({ stdout: 'out 1\nout 2\n', stderr: 'err 1\nerr 2\n', exitCode: 3 });
  });

  it('emits exit after the output and resolves wait() with the code', async () => {
    const child = sandbox.spawn('fail', ['42', 'boom']);
    const events: string[] = [];
    child.stderr.on('data', (chunk: Buffer) => events.push(`stderr:${chunk.toString().trim()}`));
    child.stdout.resume();
    child.on('exit', (code) => events.push(`exit:${code}`));
    expect(await child.wait()).toBe(42);
    expect(events).toEqual(['stderr:boom', 'exit:42']);
    expect(child.exitCode).toBe(42);
  });

  it('sends stdin as 0x00 frames and then one 0x04 EOF frame', async () => {
    const result = await sandbox.exec('cat', [], { stdin: 'hello sandbox' });
    expect(result.stdout).toBe('hello sandbox');
    const [session] = fake.sessions;
    expect(session?.url.searchParams.get('stdin')).toBe('true');
    expect(Buffer.concat(session?.stdin ?? []).toString()).toBe('hello sandbox');
    expect(session?.stdinEof).toBe(true);
  });

  it('sends EOF at once when there is no input, so readers of stdin finish', async () => {
    expect(await sandbox.exec('cat')).toEqual({ stdout: '', stderr: '', exitCode: 0 });
    expect(fake.sessions[0]?.stdinEof).toBe(true);
  });

  it('streams stdin written before and after the socket opens, cutting large writes into frames', async () => {
    const child = sandbox.spawn('cat');
    child.stdin.write('early ');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const big = Buffer.alloc(200 * 1024, 'x');
    child.stdin.end(big);
    const stdout: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.resume();
    expect(await child.wait()).toBe(0);
    expect(Buffer.concat(stdout).toString()).toBe(`early ${big.toString()}`);
    expect(fake.sessions[0]?.stdin.every((frame) => frame.length <= 64 * 1024)).toBe(true);
  });

  it('kill() sends a signal text frame, SIGTERM by default', async () => {
    const child = sandbox.spawn('sleep', ['100']);
    child.stdout.resume();
    const stderr: Buffer[] = [];
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.kill();
    expect(await child.wait()).toBe(143);
    expect(fake.sessions[0]?.signals).toEqual(['SIGTERM']);
    expect(Buffer.concat(stderr).toString()).toBe('got SIGTERM\n');
  });

  it('does not lose or reorder bytes when the reader is slow, and holds the server back instead of buffering', async () => {
    const total = 20 * 1024 * 1024;
    const child = sandbox.spawn('bytes', [String(total)]);
    child.stderr.resume();
    const expected = createHash('sha256').update(pattern(0, total)).digest('hex');
    const hash = createHash('sha256');
    let received = 0;
    let mostBuffered = 0;
    // Each read takes everything buffered, so a chunk's size is what piled up while we slept.
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      hash.update(chunk);
      received += chunk.length;
      mostBuffered = Math.max(mostBuffered, chunk.length);
      await sleep(2);
    }
    expect(await child.wait()).toBe(0);
    expect(received).toBe(total);
    expect(hash.digest('hex')).toBe(expected);
    // Without pausing the socket, megabytes pile up in the stream while the reader sleeps.
    expect(mostBuffered).toBeLessThanOrEqual(1024 * 1024);
  }, 30_000);

  it('ignores empty frames, unknown stream ids, text notifications and output after exit', async () => {
    expect(await sandbox.exec('noisy')).toEqual({ stdout: 'real\n', stderr: '', exitCode: 0 });
  });

  it('rejects when the socket closes without an exit frame, after delivering what arrived', async () => {
    const child = sandbox.spawn('hangup');
    const stdout: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.resume();
    const errors: Error[] = [];
    child.on('error', (err) => errors.push(err));
    await expect(child.wait()).rejects.toThrow(
      "exec in sandbox 'dev' lost its connection before the command exited (close code 1011: sandbox died)",
    );
    expect(Buffer.concat(stdout).toString()).toBe('partial\n');
    expect(errors).toHaveLength(1);
    await expect(sandbox.exec('hangup')).rejects.toBeInstanceOf(BurrowError);
  });

  it('surfaces a refused upgrade as a BurrowError with the server’s code and message', async () => {
    const ghost = new BurrowClient({ baseURL: fake.url, token: fake.token }).sandbox('ghost');
    const err = await ghost.exec('echo').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BurrowError);
    expect(err).toMatchObject({ status: 404, code: 'sandbox_not_found', message: "sandbox 'ghost' does not exist" });

    const stranger = new BurrowClient({ baseURL: fake.url, token: 'wrong' }).sandbox('dev');
    await expect(stranger.exec('echo')).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('reports a server that is not there as a connection error', async () => {
    const url = fake.url;
    await fake.close();
    const err = await new BurrowClient({ baseURL: url, token: 't' }).sandbox('dev').exec('echo').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BurrowConnectionError);
    expect((err as Error).message).toBe(`cannot reach burrow at ${url} (ECONNREFUSED)`);
    fake = await FakeBurrow.start();
  });

  it('kills the command and rejects with the reason when the signal aborts', async () => {
    const controller = new AbortController();
    const running = sandbox.exec('sleep', [], { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fake.sessions[0]?.signals).toEqual(['SIGKILL']);
  });

  it('fails at once, without running anything, when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('changed my mind'));
    await expect(sandbox.exec('echo', ['hi'], { signal: controller.signal })).rejects.toThrow('changed my mind');
  });

  it('quietly drops stdin written after the command exited', async () => {
    const child = sandbox.spawn('echo', ['hi']);
    child.stdout.resume();
    child.stderr.resume();
    await child.wait();
    await new Promise<void>((resolve, reject) => child.stdin.end('too late', () => resolve()).once('error', reject));
  });
});
