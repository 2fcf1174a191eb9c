// Resource limits against real gVisor sandboxes: a fork bomb, a memory hog and a disk filler
// each hurt only their own sandbox; limits change on a running sandbox; the org-wide running
// limit answers 429 or waits.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BurrowClient, SandboxEventWire } from '@burrow/sdk';
import { BurrowInstance, sandboxName } from '../support/instance.js';
import { until } from '../support/until.js';
import { useInstance } from '../support/use-instance.js';

const burrow = useInstance();
let client: BurrowClient;

beforeAll(async () => {
  client = burrow.client();
});

function row(name: string): { id: string; container_id: string } {
  const db = new Database(join(burrow.home, 'burrow.db'), { readonly: true });
  try {
    return db.prepare('SELECT id, container_id FROM sandboxes WHERE name = ?').get(name) as { id: string; container_id: string };
  } finally {
    db.close();
  }
}

const sandboxId = (name: string) => row(name).id;

function cgroupFile(name: string, controller: string, file: string): string {
  return readFileSync(`/sys/fs/cgroup/${controller}/burrow-${burrow.config.instanceTag}-${row(name).container_id}/${file}`, 'utf8').trim();
}

/** What `probe` finds, once it finds something. */
const found = <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> =>
  until(what, probe, { accept: (v) => v !== undefined, timeoutMs: 30_000 }) as Promise<T>;

describe('a fork bomb', () => {
  it('stays inside its sandbox: the host and another sandbox keep answering', async () => {
    const bomb = sandboxName('bomb');
    const other = sandboxName('calm');
    await client.createSandbox(bomb, { config: { pids_limit: 128 } });
    await client.createSandbox(other);
    // The bomb runs for 20 s; its sandbox refuses new processes past 128.
    const exploding = client.sandbox(bomb).exec('timeout', ['20', 'bash', '-c', 'b() { b | b & }; b; sleep 30']);
    await new Promise((r) => setTimeout(r, 5000));
    const started = Date.now();
    expect((await client.sandbox(other).exec('echo', ['still here'])).stdout).toBe('still here\n');
    expect((await client.listSandboxes({ prefix: other })).map((s) => s.name)).toEqual([other]);
    expect(execFileSync('echo', ['host answers'], { encoding: 'utf8' })).toBe('host answers\n');
    expect(Date.now() - started).toBeLessThan(60_000);
    // gVisor's host limit is its runtime's: 16 host tasks per process inside (oci-bundle.ts).
    expect(Number(cgroupFile(bomb, 'pids', 'pids.current'))).toBeLessThanOrEqual(128 * 16);
    expect(Number(cgroupFile(bomb, 'pids', 'pids.max'))).toBe(128 * 16);
    await exploding.catch(() => {});
    await client.deleteSandbox(bomb);
    await client.deleteSandbox(other);
  });
});

describe('a memory hog', () => {
  it('gets its gVisor sandbox OOM-killed, marked failed with the reason, and restarted on next use', async () => {
    const name = sandboxName('hog');
    const sandbox = await client.createSandbox(name, { config: { ram_mb: 256 } });
    const hog = 'b = []\nfor i in range(64): b.append(bytearray(32 << 20))\nprint("survived")';
    const result = await sandbox.exec('python3', ['-c', hog]);
    expect(result.stdout).not.toContain('survived');
    // The caller learns what happened in burrow's words, not only runsc's ("urpc ... EOF", exit 128).
    expect(result.exitCode).toBe(137);
    expect(result.stderr).toContain(`burrow: sandbox ${name} ran out of memory (ram_mb=256); the process was killed`);
    const killed = await found('the oom_killed event', async () =>
      (await sandbox.events()).find((e: SandboxEventWire) => e.type === 'oom_killed'),
    );
    expect(killed.message).toMatch(/out of memory: it needed more than its ram_mb limit of 256 MB/);
    expect(killed.detail).toMatchObject({ ram_mb: 256 });
    const info = await sandbox.refresh();
    // The Sprites status of a sandbox that died is `cold`; the reason says why.
    expect(info.status).toBe('cold');
    expect(info.failure_reason).toMatch(/out of memory/);
    // The next use boots it again, and the wake says why it had stopped.
    expect((await sandbox.exec('echo', ['back'])).stdout).toBe('back\n');
    expect((await sandbox.refresh()).status).toBe('running');
    const woke = (await sandbox.events()).filter((e) => e.type === 'woke').at(-1);
    expect(woke?.message).toMatch(/woke from failed .*out of memory/);
    await client.deleteSandbox(name);
  });

  it('in a runc sandbox loses only the greedy process: exit 137, said so, and an oom_killed event', async () => {
    const name = sandboxName('runchog');
    const sandbox = await client.createSandbox(name, { runtime: 'runc', config: { ram_mb: 256 } });
    const hog = await sandbox.exec('python3', ['-c', 'b = []\nfor i in range(64): b.append(bytearray(32 << 20))\nprint("survived")']);
    expect(hog.exitCode).toBe(137);
    expect(hog.stdout).not.toContain('survived');
    expect(hog.stderr).toContain(`burrow: sandbox ${name} ran out of memory (ram_mb=256); the process was killed`);
    const killed = await found('the oom_killed event', async () =>
      (await sandbox.events()).find((e: SandboxEventWire) => e.type === 'oom_killed'),
    );
    expect(killed.message).toMatch(/a process was killed out of memory.*the sandbox keeps running/);
    expect((await sandbox.refresh()).status).toBe('running');
    expect((await sandbox.exec('echo', ['still here'])).stdout).toBe('still here\n');
    await client.deleteSandbox(name);
  });
});

describe('filling the disk', () => {
  it('fails inside with a quota error at storage_gb and leaves the pool and other sandboxes alone', async () => {
    const name = sandboxName('full');
    const neighbour = sandboxName('roomy');
    const sandbox = await client.createSandbox(name, { config: { storage_gb: 1 } });
    await client.createSandbox(neighbour, { runtime: 'runc' });
    const fill = await sandbox.exec('sh', ['-c', 'dd if=/dev/zero of=/home/user/fill bs=1M count=1500 2>&1; echo "dd=$?"; sync']);
    // btrfs quota groups refuse with EDQUOT ("Disk quota exceeded"), not ENOSPC.
    expect(fill.stdout).toMatch(/Disk quota exceeded|No space left on device/);
    expect(fill.stdout).toContain('dd=1');
    const size = Number((await sandbox.exec('stat', ['-c', '%s', '/home/user/fill'])).stdout);
    expect(size).toBeLessThanOrEqual(2 ** 30);
    const again = await sandbox.exec('sh', ['-c', 'echo more > /home/user/more']);
    expect(again.stderr).toMatch(/Disk quota exceeded|No space left on device/);
    // Outside: the neighbour writes freely, and the pool holds at most the cap for this sandbox.
    const roomy = await client.sandbox(neighbour).exec('sh', ['-c', 'dd if=/dev/zero of=/home/user/x bs=1M count=200 2>&1 && echo ok']);
    expect(roomy.stdout).toContain('ok');
    const qgroups = execFileSync('btrfs', ['qgroup', 'show', '--raw', '--sync', burrow.config.pool.mountpoint], { encoding: 'utf8' });
    const line = qgroups.split('\n').find((l) => l.trim().endsWith(`sandboxes/${sandboxId(name)}`))!;
    expect(Number(line.trim().split(/\s+/)[1])).toBeLessThanOrEqual(2 ** 30 + (16 << 20));
    // Deleting files frees the space again.
    expect((await sandbox.exec('sh', ['-c', 'rm /home/user/fill && sync && echo more > /home/user/more && cat /home/user/more'])).stdout).toBe('more\n');
    await client.deleteSandbox(name);
    await client.deleteSandbox(neighbour);
  });
});

describe.each(['gvisor', 'runc'] as const)('the disk of a %s sandbox, seen from inside', (runtime) => {
  it('has the size of its storage_gb limit in df, and filling it records one disk_full event', async () => {
    const name = sandboxName(`df-${runtime}`);
    const sandbox = await client.createSandbox(name, { runtime, config: { storage_gb: 1 } });
    try {
      const df = async (path: string) => {
        const [size, used] = (await sandbox.exec('df', ['-B1', '--output=size,used', path])).stdout.split('\n')[1]!.trim().split(/\s+/);
        return { size: Number(size), used: Number(used) };
      };
      expect((await df('/')).size).toBe(2 ** 30);
      expect((await df('/tmp')).size).toBe(2 ** 30);
      const python = await sandbox.exec('python3', ['-c', 'import os; s = os.statvfs("/home/user"); print(s.f_blocks * s.f_frsize)']);
      expect(python.stdout).toBe(`${2 ** 30}\n`);
      await sandbox.exec('sh', ['-c', 'dd if=/dev/zero of=/home/user/fill bs=1M count=1500 2>&1; sync']);
      const full = await found('the disk_full event', async () =>
        (await sandbox.events()).find((e: SandboxEventWire) => e.type === 'disk_full'),
      60_000);
      expect(full.message).toMatch(/disk full: it holds \d+ MB of its storage_gb limit of 1 GB/);
      const seen = await df('/');
      expect(seen.used).toBeGreaterThan(0.9 * 2 ** 30);
      // Still full a while later: still one event for this episode.
      await new Promise((r) => setTimeout(r, 6_000));
      expect((await sandbox.events()).filter((e: SandboxEventWire) => e.type === 'disk_full')).toHaveLength(1);
    } finally {
      await client.deleteSandbox(name);
    }
  });
});

describe('limits', () => {
  it('change on a running sandbox at once, and a memory limit below its use is refused', async () => {
    const name = sandboxName('lim');
    const sandbox = await client.createSandbox(name, { config: { cpus: 1, ram_mb: 512, pids_limit: 256 } });
    expect(sandbox.info?.config).toMatchObject({ cpus: 1, ram_mb: 512, pids_limit: 256, storage_gb: 10 });
    const updated = await sandbox.updateLimits({ cpus: 0.5, ram_mb: 768, pids_limit: 300, storage_gb: 2 });
    expect(updated.config).toMatchObject({ cpus: 0.5, ram_mb: 768, pids_limit: 300, storage_gb: 2 });
    expect(cgroupFile(name, 'memory', 'memory.limit_in_bytes')).toBe(String(768 << 20));
    expect(cgroupFile(name, 'cpu', 'cpu.cfs_quota_us')).toBe('50000');
    // A gVisor sandbox's host limit is its runtime's: 16 host tasks per process inside.
    expect(cgroupFile(name, 'pids', 'pids.max')).toBe(String(300 * 16));
    const qgroups = execFileSync('btrfs', ['qgroup', 'show', '--raw', '-r', burrow.config.pool.mountpoint], { encoding: 'utf8' });
    expect(qgroups.split('\n').find((l) => l.includes(`sandboxes/${sandboxId(name)}`))).toContain(String(2 * 2 ** 30));
    const changed = (await sandbox.events()).find((e) => e.type === 'limits_changed');
    expect(changed?.message).toMatch(/cpus 1 -> 0.5.*ramMb 512 -> 768/);
    // A memory limit below what the sandbox uses now is refused, and nothing changes.
    await sandbox.exec('sh', ['-c', 'python3 -c "import time; b = bytearray(300 << 20); open(\'/tmp/allocated\', \'w\'); time.sleep(60)" >/dev/null 2>&1 &']);
    await until('300 MiB to be allocated', async () => (await sandbox.exec('test', ['-e', '/tmp/allocated'])).exitCode === 0);
    await expect(sandbox.updateLimits({ ram_mb: 128 })).rejects.toMatchObject({ status: 409, code: 'conflict' });
    expect((await sandbox.refresh()).config.ram_mb).toBe(768);
    expect(cgroupFile(name, 'memory', 'memory.limit_in_bytes')).toBe(String(768 << 20));
    // The Sprites SDK's resource policy sets the same memory limit.
    const policy = (method: string, body?: object) =>
      fetch(`${burrow.url}/v1/sprites/${name}/policy/resources`, {
        method,
        headers: { Authorization: `Bearer ${burrow.token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    expect(await (await policy('POST', { memory: { limit_mb: 1024 } })).json()).toEqual({ memory: { limit_mb: 1024, autoscale: false } });
    expect(cgroupFile(name, 'memory', 'memory.limit_in_bytes')).toBe(String(1024 << 20));
    expect((await policy('POST', { memory: { limit_mb: 1024, autoscale: true } })).status).toBe(400);
    expect((await policy('POST', { memory: { limit_mb: 5 } })).status).toBe(400);
    expect(await (await policy('GET')).json()).toEqual({ memory: { limit_mb: 1024, autoscale: false } });
    await client.deleteSandbox(name);
  });
});

describe('the org-wide running limit', () => {
  it('answers 429 over the limit, or waits for a slot with wait_for_capacity', async () => {
    const limited = await BurrowInstance.create({ BURROW_RUNNING_LIMIT: '1', BURROW_CAPACITY_WAIT: '60s' });
    try {
      await limited.start();
      const c = limited.client();
      const [a, b] = [sandboxName('cap-a'), sandboxName('cap-b')];
      await c.createSandbox(a, { runtime: 'runc' });
      const page = (await (await fetch(`${limited.url}/v1/sprites`, { headers: { Authorization: `Bearer ${limited.token}` } })).json()) as {
        running_limit: number;
        org: { running: number; running_limit: number };
      };
      expect(page.running_limit).toBe(1);
      expect(page.org).toMatchObject({ running: 1, running_limit: 1 });
      const refused = await fetch(`${limited.url}/v1/sprites`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${limited.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: b, runtime: 'runc' }),
      });
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect(await refused.json()).toMatchObject({ error: 'concurrent_sprite_limit_exceeded', limit: 1, message: expect.stringMatching(/wait_for_capacity/) });
      await expect(c.getSandbox(b)).rejects.toMatchObject({ status: 404 });
      // Waiting: the create goes through once the first sandbox is gone.
      const waiting = c.createSandbox(b, { runtime: 'runc', wait_for_capacity: true });
      await new Promise((r) => setTimeout(r, 1500));
      await c.deleteSandbox(a);
      expect((await waiting).info?.status).toBe('running');
      await c.deleteSandbox(b);
    } finally {
      await limited.destroy();
    }
  });
});
