// Streamed commands in a `vm` sandbox, booted for real under TCG (one guest for the file): stdin
// streamed in, large output intact, no command stalling another or the bridge, kill, exit codes
// and signals, the spec's exact environment, directory and user, and burrow-agent's launch()
// with a terminal, as core/ drives every command; and a host socket among the bundle's files
// relayed to a program in the guest through the bridge.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskImages, diskLayout, ensureVmAssets, hostTscKhz, ImageStore, launch, poolLayout, VmRuntime } from '@burrow/server/testing';
import { until } from '../support/until.js';
import { processesNaming } from '../support/host-state.js';
import { useInstance } from '../support/use-instance.js';

const burrow = useInstance({ BURROW_IMAGE: 'minimal' });
const MiB = 2 ** 20;
const SANDBOX = 'vm-exec';
const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A command as root in /, with only PATH set. */
function asRoot(args: string[], env: string[] = [PATH]) {
  return { args, env, cwd: '/', uid: 0, gid: 0 };
}

/** How the command ended, once it has closed; what it said is in the error if it does not in time. */
function closed(child: ChildProcessWithoutNullStreams, said: () => string = () => ''): Promise<[number | null, NodeJS.Signals | null]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${child.spawnargs.join(' ')} did not close within 60 s (exit code ${child.exitCode}); it said: ${JSON.stringify(said())}`)), 60_000);
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      resolve([code, signal]);
    });
  });
}

/** Everything a stream says, as text, while the test reads it as it comes. */
function collect(stream: NodeJS.ReadableStream): { text: () => string } {
  let text = '';
  stream.on('data', (b: Buffer) => (text += b.toString()));
  return { text: () => text };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

describe('streamed commands in a vm sandbox under TCG', () => {
  let disks: DiskImages;
  let imageId: string | undefined;
  let runtime: VmRuntime;
  let root: string;
  let bundle: string;
  let echo: Server;
  /** How many connections the host's echo socket accepted. */
  let echoed = 0;

  beforeAll(async () => {
    const assets = await ensureVmAssets(burrow.config.imageCache);
    disks = new DiskImages(diskLayout(poolLayout(burrow.config).root));
    const images = new ImageStore(burrow.config, poolLayout(burrow.config));
    imageId = images.idFor('minimal');
    const imageDisk = await disks.ensureImage(imageId, images.pathOf(imageId), { sizeBytes: 2 * 1024 * MiB });
    await disks.clone(imageDisk, SANDBOX);
    root = join(burrow.home, 'vm-exec');
    bundle = join(burrow.home, 'vm-exec-bundle');
    await mkdir(bundle, { recursive: true });
    // A host socket offered in the guest, as the in-sandbox API's is: it echoes, and ends when the guest does.
    const sockets = join(burrow.home, 'vm-exec-sockets');
    await mkdir(sockets, { recursive: true });
    echo = createServer({ allowHalfOpen: true }, (s) => {
      echoed++;
      s.on('error', () => {});
      s.pipe(s);
    });
    await new Promise<void>((resolve) => echo.listen(join(sockets, 'echo.sock'), resolve));
    await chmod(join(sockets, 'echo.sock'), 0o666);
    await writeFile(
      join(bundle, 'config.json'),
      JSON.stringify({
        root: { path: disks.sandboxPath(SANDBOX) },
        linux: { cgroupsPath: `/burrow-${burrow.config.instanceTag}-${SANDBOX}`, resources: { memory: { limit: 512 * MiB } } },
        mounts: [{ destination: '/.burrow/relay', type: 'bind', source: sockets, options: ['rbind', 'ro'] }],
      }),
    );
    const host = { accel: 'tcg' as const, assets, tscKhz: await hostTscKhz() };
    runtime = new VmRuntime({ root, host: async () => host });
    await runtime.start(SANDBOX, bundle);
  }, 600_000);

  afterAll(async () => {
    try {
      await runtime?.remove(SANDBOX);
      runtime?.close();
      expect(root ? processesNaming(join(root, SANDBOX)) : []).toEqual([]);
    } finally {
      await disks?.removeSandboxDisk(SANDBOX);
      if (imageId) await disks?.removeImage(imageId);
      if (bundle) await rm(bundle, { recursive: true, force: true });
      echo?.close();
    }
  });

  it('streams stdin to cat chunk by chunk and its output back before stdin ends', async () => {
    const cat = runtime.exec(SANDBOX, asRoot(['cat']));
    const out = collect(cat.stdout);
    let expected = '';
    for (let i = 0; i < 5; i++) {
      const chunk = `chunk ${i} ${'x'.repeat(i * 1000)}\n`;
      cat.stdin.write(chunk);
      expected += chunk;
      await until('cat to echo the chunk', () => out.text() === expected, { intervalMs: 20 });
    }
    cat.stdin.end();
    expect(await closed(cat)).toEqual([0, null]);
    expect(cat.exitCode).toBe(0);
    expect(cat.pid).toBeGreaterThan(1);
  });

  it('runs with exactly the given environment, directory, uid and gid', async () => {
    const env = runtime.exec(SANDBOX, { args: ['/usr/bin/env'], env: ['A=1', 'B=two words'], cwd: '/', uid: 0, gid: 0 });
    const out = collect(env.stdout);
    env.stderr.resume();
    env.stdin.end();
    expect(await closed(env)).toEqual([0, null]);
    expect(out.text()).toBe('A=1\nB=two words\n');
    expect(await runtime.run(SANDBOX, { args: ['/bin/sh', '-c', 'pwd; id -u; id -g; id -G'], env: [PATH], cwd: '/tmp', uid: 1000, gid: 1001 })).toBe('/tmp\n1000\n1001\n1001\n');

    const missing = runtime.exec(SANDBOX, asRoot(['/no/such/program']));
    missing.stdout.resume();
    missing.stderr.resume();
    const error = new Promise<Error>((resolve) => missing.once('error', resolve));
    const missingClosed = closed(missing);
    expect((await error).message).toMatch(/exec \/no\/such\/program: No such file or directory/);
    await missingClosed;
    await expect(runtime.run(SANDBOX, { ...asRoot(['/bin/true']), cwd: '/no/such/dir' })).rejects.toThrow(/chdir \/no\/such\/dir/);
  });

  it('reports exit codes, and death by signal as a signal', async () => {
    const seven = runtime.exec(SANDBOX, asRoot(['sh', '-c', 'echo bye >&2; exit 7']));
    const err = collect(seven.stderr);
    seven.stdout.resume();
    seven.stdin.end();
    expect(await closed(seven)).toEqual([7, null]);
    expect(err.text()).toBe('bye\n');
    const killed = runtime.exec(SANDBOX, asRoot(['sh', '-c', 'kill -TERM $$']));
    killed.stdout.resume();
    killed.stderr.resume();
    expect(await closed(killed)).toEqual([null, 'SIGTERM']);
    expect(killed.signalCode).toBe('SIGTERM');
  });

  it('carries 16 MiB of output intact, and holds a command whose output is not read without holding the others', async () => {
    await runtime.run(SANDBOX, asRoot(['sh', '-c', 'head -c 16777216 /dev/urandom > /root/big && sha256sum /root/big > /root/big.sum']));
    const expected = (await runtime.run(SANDBOX, asRoot(['cat', '/root/big.sum']))).split(' ')[0];

    const big = runtime.exec(SANDBOX, asRoot(['cat', '/root/big']));
    big.stdin.end();
    big.stderr.resume();
    // Not read for now: the guest stops reading its pipe, the command waits, the rest goes on.
    big.stdout.pause();
    await until('the first output to arrive', () => big.stdout.readableLength > 0, { intervalMs: 50 });
    expect(await runtime.run(SANDBOX, asRoot(['echo', 'meanwhile']))).toBe('meanwhile\n');
    expect(big.stdout.readableLength).toBeLessThanOrEqual(1 * MiB);
    expect(big.exitCode).toBeNull();

    const hash = createHash('sha256');
    let bytes = 0;
    const started = Date.now();
    big.stdout.on('data', (b: Buffer) => {
      hash.update(b);
      bytes += b.length;
    });
    big.stdout.resume();
    expect(await closed(big)).toEqual([0, null]);
    const seconds = (Date.now() - started) / 1000;
    expect(bytes).toBe(16 * MiB);
    expect(hash.digest('hex')).toBe(expected);
    console.log(`TCG: 16 MiB of output in ${seconds.toFixed(1)} s (${(16 / seconds).toFixed(1)} MiB/s)`);
  });

  it('does not stall on a command that never reads its stdin: others run, and kill ends its whole group', async () => {
    const stuck = runtime.exec(SANDBOX, asRoot(['sh', '-c', 'sleep 600 & sleep 600']));
    stuck.stdout.resume();
    stuck.stderr.resume();
    stuck.on('error', () => {}); // none expected; the close below says how it ended
    let written = false;
    stuck.stdin.on('error', () => {});
    stuck.stdin.write(Buffer.alloc(4 * MiB, 1), () => (written = true));
    await until('the command to start', () => stuck.pid, { intervalMs: 50 });
    // Its input fills its pipe and its queue in the guest; a second command is served all the same.
    expect(await runtime.run(SANDBOX, asRoot(['echo', 'still served']))).toBe('still served\n');
    const echo = runtime.exec(SANDBOX, asRoot(['cat']));
    const echoed = collect(echo.stdout);
    echo.stdin.end('through another stdin');
    expect(await closed(echo)).toEqual([0, null]);
    expect(echoed.text()).toBe('through another stdin');
    expect(written).toBe(false);

    const sleepers = () => runtime.run(SANDBOX, asRoot(['sh', '-c', 'grep -lx sleep /proc/[0-9]*/comm | wc -l']));
    expect(Number(await sleepers())).toBe(2);
    expect(stuck.kill('SIGKILL')).toBe(true);
    expect(await closed(stuck)).toEqual([null, 'SIGKILL']);
    await until('the background sleep to die with its group', async () => Number(await sleepers()) === 0, { intervalMs: 200 });
    expect(written).toBe(true);

    // Its shell gone, what it left in the background holds its output open: kill still reaches it.
    const orphan = runtime.exec(SANDBOX, asRoot(['sh', '-c', 'sleep 600 & echo started']));
    const said = collect(orphan.stdout);
    const orphanClosed = closed(orphan);
    orphan.stderr.resume();
    orphan.stdin.end();
    await until('the shell to start its sleep', () => said.text() === 'started\n', { intervalMs: 50 });
    expect(Number(await sleepers())).toBe(1);
    expect(orphan.exitCode).toBeNull();
    expect(orphan.kill('SIGKILL')).toBe(true);
    expect(await orphanClosed).toEqual([0, null]);
    expect(Number(await sleepers())).toBe(0);
  });

  it("runs burrow-agent's launch() on a terminal: tty, resize and signal reach the command", async () => {
    const shell = launch(runtime, SANDBOX, {
      args: ['/bin/sh', '-c', 'tty; stty size; read line; stty size; echo "got $line"'],
      env: [PATH, 'HOME=/root'],
      cwd: '/root',
      uid: 0,
      gid: 0,
      tty: { rows: 24, cols: 80 },
    });
    const out = collect(shell.child.stdout);
    const shellClosed = closed(shell.child, out.text);
    shell.child.stderr.resume();
    await until('the terminal and its size', () => /\/dev\/pts\/\d+\r?\n24 80/.test(out.text()), { intervalMs: 50 });
    await shell.resize(40, 100);
    shell.child.stdin.write('hello\n');
    const [code] = await shellClosed;
    expect(out.text()).toMatch(/40 100\r?\ngot hello/);
    expect(code).toBe(0);

    const trapper = launch(runtime, SANDBOX, {
      args: ['/bin/sh', '-c', 'trap "echo trapped; exit 5" TERM; echo ready; while :; do sleep 0.1; done'],
      env: [PATH],
      cwd: '/',
      uid: 0,
      gid: 0,
      tty: { rows: 24, cols: 80 },
    });
    const said = collect(trapper.child.stdout);
    // Listened for first: the command may close before the agent's signal command has answered.
    const trapperClosed = closed(trapper.child, said.text);
    trapper.child.stderr.resume();
    await until('the trap to be set', () => said.text().includes('ready'), { intervalMs: 50 });
    await trapper.signal('SIGTERM');
    expect(await trapperClosed).toEqual([5, null]);
    expect(said.text()).toContain('trapped');
  });

  it('relays a program\'s connection to an offered host socket: 8 MiB each way, half-closed, as the sandbox user', async () => {
    // The program writes while it reads (the echo answers as it goes), then shuts its end: the
    // echo's end follows, and what came back is what went out.
    const client = [
      'import hashlib, socket, threading',
      "data = bytes(range(256)) * (8 * 4096)",
      "s = socket.socket(socket.AF_UNIX); s.connect('/.burrow/relay/echo.sock')",
      'def send():',
      '    s.sendall(data); s.shutdown(socket.SHUT_WR)',
      't = threading.Thread(target=send); t.start()',
      'h = hashlib.sha256(); n = 0',
      'while True:',
      '    b = s.recv(65536)',
      '    if not b: break',
      '    h.update(b); n += len(b)',
      't.join()',
      "print(n, h.hexdigest() == hashlib.sha256(data).hexdigest())",
    ].join('\n');
    const before = echoed;
    const out = await runtime.run(SANDBOX, { args: ['python3', '-c', client], env: [PATH], cwd: '/', uid: 1000, gid: 1000 }, 300_000);
    expect(out).toBe(`${8 * MiB} True\n`);
    expect(echoed).toBe(before + 1);
    expect(await runtime.run(SANDBOX, asRoot(['stat', '-c', '%A', '/.burrow/relay/echo.sock']))).toBe('srw-rw-rw-\n');
  });

  it('closes the guest\'s connection when the host socket is gone', async () => {
    await new Promise((resolve) => echo.close(resolve));
    const client = [
      'import socket',
      "s = socket.socket(socket.AF_UNIX); s.connect('/.burrow/relay/echo.sock')",
      'try: print(len(s.recv(10)))',
      "except ConnectionResetError: print('reset')",
    ].join('\n');
    expect(await runtime.run(SANDBOX, asRoot(['python3', '-c', client]))).toMatch(/^(0|reset)\n$/);
  });

  it('ends the commands of a daemon that went away, and serves the next one', async () => {
    const sleeper = runtime.exec(SANDBOX, asRoot(['sleep', '600']));
    sleeper.stdout.resume();
    sleeper.stderr.resume();
    const lost = new Promise<Error>((resolve) => sleeper.once('error', resolve));
    await until('the command to start', () => sleeper.pid, { intervalMs: 50 });
    const sleepers = () => runtime.run(SANDBOX, asRoot(['sh', '-c', 'grep -lx sleep /proc/[0-9]*/comm | wc -l']));
    expect(Number(await sleepers())).toBe(1);
    // The daemon stops: its channel closes, its command fails here and is killed in the guest.
    runtime.close();
    expect((await lost).message).toMatch(/closed/);
    await until('the guest to kill the command nobody reads', async () => Number(await sleepers()) === 0, { intervalMs: 200 });
  });

  it('measures the round trip of a command (true) through the bridge, against spawning true on the host', async () => {
    const times = async (once: () => Promise<unknown>) => {
      const ms: number[] = [];
      for (let i = 0; i < 15; i++) {
        const t = process.hrtime.bigint();
        await once();
        ms.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      return median(ms);
    };
    const guest = await times(() => runtime.run(SANDBOX, asRoot(['/bin/true'])));
    const host = await times(
      () =>
        new Promise((resolve, reject) => {
          const child = spawn('/bin/true', { stdio: 'pipe' });
          child.on('error', reject);
          child.on('close', resolve);
        }),
    );
    expect(guest).toBeGreaterThan(0);
    console.log(`TCG: exec round trip of true ${guest.toFixed(1)} ms (median of 15); host spawn of true ${host.toFixed(1)} ms; ratio ${(guest / host).toFixed(1)}x`);
  });
});
