// The foundation end to end, through the SDK against a real `burrow serve`: real runsc and runc
// sandboxes on a real btrfs pool, surviving daemon restarts, and leaving nothing behind.
import { existsSync } from 'node:fs';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BurrowClient } from '@burrow/sdk';
import { sandboxName } from '../support/instance.js';
import { useInstance } from '../support/use-instance.js';
import { hostState } from '../support/host-state.js';
import { peakRss } from '../support/memory.js';

const burrow = useInstance();
let client: BurrowClient;

beforeAll(async () => {
  client = burrow.client();
});

describe('a gVisor sandbox', () => {
  const name = sandboxName('life');

  it('is created running, as the default runtime, with the isolation spelled out', async () => {
    const sandbox = await client.createSandbox(name);
    expect(sandbox.info).toMatchObject({ name, status: 'running', runtime: 'gvisor', image: 'dev' });
    expect(sandbox.info?.id).toBeTruthy();
    expect(sandbox.info?.isolation).toMatch(/gVisor/);
    const listed = await client.listSandboxes({ prefix: name });
    expect(listed.map((s) => s.name)).toEqual([name]);
  });

  it('runs commands as user in the home directory, with the exit code propagated', async () => {
    const sandbox = client.sandbox(name);
    const r = await sandbox.exec('sh', ['-c', 'id -un; pwd; hostname; echo oops >&2; exit 3']);
    expect(r).toEqual({ stdout: `user\n/home/user\n${name}\n`, stderr: 'oops\n', exitCode: 3 });
    expect((await sandbox.exec('uname', ['-s'])).stdout).toBe('Linux\n');
  });

  it('gives the user passwordless sudo, although gVisor ignores set-user-ID bits', async () => {
    const sandbox = client.sandbox(name);
    const r = await sandbox.exec('sh', ['-c', 'sudo id -u; sudo -u user id -un; echo secret | sudo tee /root/x >/dev/null; sudo cat /root/x']);
    expect(r).toMatchObject({ stdout: '0\nuser\nsecret\n', exitCode: 0 });
    // Only the sudo group gets it: another user is refused by PID 1.
    const other = await sandbox.exec('sh', ['-c', 'sudo useradd -M guest && sudo -u guest sudo id -u']);
    expect(other.exitCode).not.toBe(0);
    expect(other.stderr).toMatch(/guest is not allowed to run sudo/);
  });

  it('delivers signals to the command', async () => {
    const proc = client.sandbox(name).spawn('sh', ['-c', 'trap "echo got TERM; exit 7" TERM; echo ready; while :; do sleep 0.1; done']);
    let out = '';
    proc.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out === 'ready\n') proc.kill('SIGTERM');
    });
    expect(await proc.wait()).toBe(7);
    expect(out).toBe('ready\ngot TERM\n');
  });

  it('pipes stdin through, and stdin is not a terminal', async () => {
    const sandbox = client.sandbox(name);
    expect(await sandbox.exec('cat', [], { stdin: 'hi\n' })).toMatchObject({ stdout: 'hi\n', exitCode: 0 });
    const tty = await sandbox.exec('tty');
    expect(tty.exitCode).toBe(1);
    expect(tty.stdout).toContain('not a tty');
  });

  it('applies env (replacing the defaults but keeping PATH) and dir', async () => {
    const sandbox = client.sandbox(name);
    const r = await sandbox.exec('env', [], { env: { ONLY: 'this' } });
    expect(r.stdout).toContain('ONLY=this');
    expect(r.stdout).not.toContain('USER=');
    expect(r.stdout).not.toContain('LANG=');
    expect((await sandbox.exec('pwd', [], { cwd: '/tmp' })).stdout).toBe('/tmp\n');
  });

  it('reports a command that does not exist as a failed exit with the reason on stderr', async () => {
    const r = await client.sandbox(name).exec('no-such-command-here');
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/no-such-command-here/);
  });

  it('keeps its files and keeps running across a daemon restart', async () => {
    const sandbox = client.sandbox(name);
    expect((await sandbox.exec('sh', ['-c', 'echo persisted > ~/f && sleep 1000 >/dev/null 2>&1 &'])).exitCode).toBe(0);
    const before = (await sandbox.exec('pgrep', ['-f', '^sleep 1000'])).stdout;
    await burrow.stop();
    await burrow.start();
    client = burrow.client();
    const after = client.sandbox(name);
    expect((await after.exec('cat', ['/home/user/f'])).stdout).toBe('persisted\n');
    // The same process is still there: the sandbox was not restarted, only the daemon.
    expect((await after.exec('pgrep', ['-f', '^sleep 1000'])).stdout).toBe(before);
  });

  it('streams 1 GiB of output in bounded daemon memory', async () => {
    const child = client.sandbox(name).spawn('head', ['-c', '1G', '/dev/zero']);
    const { result: bytes, peak } = await peakRss(burrow.pid, async () => {
      let total = 0;
      for await (const chunk of child.stdout) total += (chunk as Buffer).length;
      await child.wait();
      return total;
    });
    expect(bytes).toBe(2 ** 30);
    expect(peak).toBeLessThan(400 * 2 ** 20);
  });

  it('answers the plain HTTP exec with framed output and the exit frame last', async () => {
    const url = `${burrow.url}/v1/sprites/${name}/exec?cmd=sh&cmd=-c&cmd=${encodeURIComponent('cat; echo e >&2; exit 5')}&stdin=true`;
    const response = await fetch(url, {
      method: 'POST',
      headers: { Authorization: `Bearer ${burrow.token}`, 'Content-Type': 'application/octet-stream' },
      body: 'input',
    });
    expect(response.status).toBe(200);
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.subarray(-2)).toEqual(Buffer.of(3, 5));
    expect(body.includes(Buffer.from('\x01input'))).toBe(true);
    expect(body.includes(Buffer.from('\x02e\n'))).toBe(true);
  });
});

describe('a runc sandbox', () => {
  const name = sandboxName('runc');

  it('runs the same image hardened like a Docker container', async () => {
    const sandbox = await client.createSandbox(name, { runtime: 'runc' });
    expect(sandbox.info).toMatchObject({ runtime: 'runc' });
    expect(sandbox.info?.isolation).toMatch(/shares the host kernel/);
    const status = await sandbox.exec('grep', ['-E', '^(Seccomp|NoNewPrivs|CapEff):', '/proc/self/status']);
    expect(status.stdout).toMatch(/Seccomp:\s+2/);
    // Namespaces and mounts are refused by the seccomp filter even to root.
    const unshare = await sandbox.exec('sudo', ['unshare', '--net', 'true']);
    expect(unshare.exitCode).not.toBe(0);
    const mount = await sandbox.exec('sudo', ['mount', '-t', 'tmpfs', 'x', '/mnt']);
    expect(mount.exitCode).not.toBe(0);
    expect((await sandbox.exec('sudo', ['cat', '/proc/kcore'])).stdout).toBe('');
    expect((await sandbox.exec('sudo', ['id', '-u'])).stdout).toBe('0\n');
  });
});

describe.each(['gvisor', 'runc'] as const)('/tmp of a %s sandbox', (runtime) => {
  it('is on its disk: kept across cold sleep, in checkpoints, restores and forks', async () => {
    const name = sandboxName(`tmp-${runtime}`);
    const sandbox = await client.createSandbox(name, { runtime });
    const forkName = `${name}-fork`;
    try {
      const mounts = await sandbox.exec('sh', ['-c', 'echo kept > /tmp/x; stat -c %a /tmp; grep " /tmp " /proc/mounts']);
      expect(mounts.stdout).toMatch(/^1777\n/);
      expect(mounts.stdout).not.toMatch(/tmpfs/);
      await sandbox.sleep({ cold: true });
      expect((await sandbox.exec('cat', ['/tmp/x'])).stdout).toBe('kept\n');
      const checkpoint = await sandbox.createCheckpoint('with /tmp/x');
      await sandbox.exec('sh', ['-c', 'echo changed > /tmp/x']);
      await sandbox.restoreCheckpoint(checkpoint.id);
      expect((await sandbox.exec('cat', ['/tmp/x'])).stdout).toBe('kept\n');
      const fork = await sandbox.fork(checkpoint.id, forkName);
      expect((await fork.exec('cat', ['/tmp/x'])).stdout).toBe('kept\n');
    } finally {
      await client.deleteSandbox(forkName).catch(() => {});
      await client.deleteSandbox(name);
    }
  });

  it('is never bound from where a symlink planted at /tmp on its disk points', async () => {
    const name = sandboxName(`tmplink-${runtime}`);
    const sandbox = await client.createSandbox(name, { runtime });
    const target = join(burrow.home, `planted-target-${runtime}`);
    try {
      await sandbox.sleep({ cold: true });
      const upper = join(burrow.config.pool.mountpoint, 'sandboxes', String(sandbox.info?.id), 'upper');
      await mkdir(target, { recursive: true });
      await rm(join(upper, 'tmp'), { recursive: true, force: true });
      await symlink(target, join(upper, 'tmp'));
      const inside = await sandbox.exec('sh', ['-c', 'echo mine > /tmp/probe && stat -c %a /tmp && ls -d /tmp.displaced-*']);
      expect(inside.stdout).toMatch(/^1777\n\/tmp\.displaced-\d+\n$/);
      expect(existsSync(join(target, 'probe'))).toBe(false);
    } finally {
      await client.deleteSandbox(name);
      await rm(target, { recursive: true, force: true });
    }
  });
});

describe.each(['gvisor', 'runc'] as const)('/dev/shm of a %s sandbox', (runtime) => {
  it('holds half its RAM limit, not a fixed 64 MiB', async () => {
    const name = sandboxName(`shm-${runtime}`);
    const sandbox = await client.createSandbox(name, { runtime, config: { ram_mb: 1024 } });
    try {
      const size = await sandbox.exec('df', ['-B1', '--output=size', '/dev/shm']);
      expect(Number(size.stdout.split('\n')[1])).toBe(512 * 2 ** 20);
      const fill = await sandbox.exec('sh', ['-c', 'head -c 100M /dev/zero > /dev/shm/big && stat -c %s /dev/shm/big']);
      expect(fill).toMatchObject({ stdout: `${100 * 2 ** 20}\n`, exitCode: 0 });
    } finally {
      await client.deleteSandbox(name);
    }
  });
});

describe('destroy', () => {
  it('leaves no mount, subvolume, namespace, container, cgroup or row behind', async () => {
    const names = [sandboxName('life'), sandboxName('runc')];
    const before = hostState(burrow.config);
    expect(before.rows.sort()).toEqual([...names].sort());
    expect(before.subvolumes).toHaveLength(2);
    expect(before.netns).toHaveLength(2);
    expect(before.containers).toHaveLength(2);
    expect(before.mounts.filter((m) => m.endsWith('/rootfs'))).toHaveLength(2);
    for (const name of names) await client.deleteSandbox(name);
    expect(hostState(burrow.config)).toEqual({ mounts: [], subvolumes: [], snapshots: [], netns: [], containers: [], rows: [], cgroups: [], links: [], rules: [], addresses: [] });
    await expect(client.getSandbox(names[0]!)).rejects.toMatchObject({ status: 404, code: 'sandbox_not_found' });
  });
});
