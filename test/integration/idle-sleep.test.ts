// Idle sleep and wake against a real gVisor sandbox: the idle timer freezes (warm) and then stops
// (cold) sandboxes nobody uses, any use wakes them, memory survives warm, the disk survives
// cold, a sandbox that dies underneath is marked and restarted, and a daemon restart keeps it all.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BurrowClient, Sprite } from '@burrow/sdk';
import { sandboxName } from '../support/instance.js';
import { until } from '../support/until.js';
import { useInstance } from '../support/use-instance.js';

const burrow = useInstance({ BURROW_WARM_AFTER: '2s', BURROW_COLD_AFTER: '5s' });
let client: BurrowClient;

beforeAll(async () => {
  client = burrow.client();
});

/** The sandbox's record (reading it does not count as use) once `accept` takes it. */
const spriteOnce = (name: string, accept: (s: Sprite) => boolean, timeoutMs?: number): Promise<Sprite> =>
  until(`sandbox ${name}`, () => client.sandbox(name).refresh(), { accept, timeoutMs });

/** The host process of a sandbox's gVisor kernel (its current container's). */
function sandboxPid(id: string): number {
  const root = join(burrow.home, 'run', 'gvisor');
  const container = burrow.containerOf(id);
  const state = JSON.parse(execFileSync('runsc', ['--root', root, 'state', container], { encoding: 'utf8' })) as { pid: number };
  return state.pid;
}

const counterProgram = [
  'import os, random, time',
  'token = random.getrandbits(48)',
  'n = 0',
  'while True:',
  '    n += 1',
  "    open('/tmp/counter.tmp', 'w').write(f'{token} {n}')",
  "    os.replace('/tmp/counter.tmp', '/tmp/counter')",
  '    time.sleep(0.2)',
].join('\n');

async function readCounter(name: string): Promise<{ token: string; n: number }> {
  const r = await client.sandbox(name).exec('cat', ['/tmp/counter']);
  const [token, n] = r.stdout.split(' ');
  return { token: token!, n: Number(n) };
}

describe('an idle sandbox', () => {
  const name = sandboxName('idle');

  it('goes warm after the warm timeout and cold after the cold timeout, with the times recorded', async () => {
    const created = await client.createSandbox(name);
    expect(created.info?.sleep).toEqual({ warm_after: '2s', cold_after: '5s', custom: false });
    await client.sandbox(name).exec('sh', ['-c', 'echo kept > ~/before-sleep']);
    const warm = await spriteOnce(name, (s) => s.status !== 'running');
    expect(warm.status).toBe('warm');
    expect(Date.parse(warm.last_warming_at!)).toBeGreaterThan(Date.parse(warm.last_running_at!));
    const cold = await spriteOnce(name, (s) => s.status === 'cold');
    expect(cold.last_warming_at).toBe(warm.last_warming_at);
    const slept = (await client.sandbox(name).events()).filter((e) => e.type === 'slept').map((e) => e.detail?.to);
    expect(slept).toEqual(['warm', 'cold']);
  });

  it('wakes on exec, with the file written before sleeping still there', async () => {
    const r = await client.sandbox(name).exec('cat', ['/home/user/before-sleep']);
    expect(r).toMatchObject({ stdout: 'kept\n', exitCode: 0 });
    expect((await client.sandbox(name).refresh()).status).toBe('running');
  });

  it('stays awake while an attached command runs past the timeout, and sleeps after', async () => {
    const r = await client.sandbox(name).exec('sh', ['-c', 'sleep 4; echo done']);
    expect(r.stdout).toBe('done\n');
    expect((await client.sandbox(name).refresh()).status).toBe('running');
    await spriteOnce(name, (s) => s.status === 'warm');
  });

  it('shares one cold wake among concurrent callers', async () => {
    await client.sandbox(name).sleep({ cold: true });
    const coldWakes = async () => (await client.sandbox(name).events()).filter((e) => e.type === 'woke' && e.detail?.from === 'cold').length;
    const before = await coldWakes();
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => client.sandbox(name).exec('echo', [String(i)])));
    expect(results.map((r) => r.stdout)).toEqual(['0\n', '1\n', '2\n', '3\n', '4\n']);
    expect((await coldWakes()) - before).toBe(1);
  });
});

describe('warm sleep', () => {
  const name = sandboxName('warm');

  it('keeps the memory of a background process: it goes on counting from where it was', async () => {
    await client.createSandbox(name, { sleep: { warm_after: 'off' } });
    const sandbox = client.sandbox(name);
    await sandbox.exec('sh', ['-c', `nohup python3 -c "${counterProgram.replace(/"/g, '\\"')}" >/dev/null 2>&1 &`]);
    await spriteOnce(name, () => true);
    let first = await readCounter(name).catch(() => ({ token: '', n: 0 }));
    while (!first.token) first = await readCounter(name).catch(() => ({ token: '', n: 0 }));
    expect((await sandbox.sleep()).status).toBe('warm');
    await new Promise((r) => setTimeout(r, 1500));
    const woken = await readCounter(name);
    expect(woken.token).toBe(first.token); // the same process, not a restarted one
    expect(woken.n).toBeGreaterThanOrEqual(first.n);
    // Frozen for 1.5 s at 5 counts a second: far fewer than 7 counts went by while asleep.
    expect(woken.n - first.n).toBeLessThan(7);
  });

  it('honours a per-sandbox override: this one never went warm by itself', async () => {
    const sprite = await client.sandbox(name).refresh();
    expect(sprite.sleep).toMatchObject({ warm_after: 'off', custom: true });
    expect(sprite.status).toBe('running');
    const changed = await client.sandbox(name).setSleep({ warm_after: null, cold_after: '1h' });
    expect(changed.sleep).toEqual({ warm_after: '2s', cold_after: '1h', custom: true });
  });

  it('refuses a bad timeout with a clear error and changes nothing', async () => {
    await expect(client.sandbox(name).setSleep({ warm_after: 'soon' })).rejects.toMatchObject({ status: 400 });
    expect((await client.sandbox(name).refresh()).sleep?.cold_after).toBe('1h');
  });
});

describe('a sandbox that dies underneath', () => {
  const name = sandboxName('dies');

  it('is marked with the reason, and boots again on the next use', async () => {
    const created = await client.createSandbox(name, { sleep: { warm_after: 'off' } });
    process.kill(sandboxPid(created.info!.id), 'SIGKILL');
    const dead = await spriteOnce(name, (s) => Boolean(s.failure_reason));
    expect(dead.status).toBe('cold');
    expect(dead.failure_reason).toMatch(/stopped underneath/);
    expect((await client.sandbox(name).exec('echo', ['back'])).stdout).toBe('back\n');
    expect((await client.sandbox(name).refresh()).status).toBe('running');
  });

  it('says "out of memory" when it was killed for exceeding its limit', async () => {
    const oom = sandboxName('oom');
    await client.createSandbox(oom, { config: { ram_mb: 256 }, sleep: { warm_after: 'off' } });
    await client
      .sandbox(oom)
      .exec('python3', ['-c', 'b = []\nwhile True: b.append(bytearray(64 << 20))'])
      .catch(() => undefined);
    const dead = await spriteOnce(oom, (s) => Boolean(s.failure_reason));
    expect(dead.failure_reason).toMatch(/out of memory/);
    expect((await client.sandbox(oom).events()).some((e) => e.type === 'oom_killed')).toBe(true);
    expect((await client.sandbox(oom).exec('echo', ['back'])).stdout).toBe('back\n');
  });
});

describe('a daemon restart', () => {
  it('keeps each sandbox warm, cold or running as it was', async () => {
    const [w, c, r] = ['rw', 'rc', 'rr'].map(sandboxName) as [string, string, string];
    for (const n of [w, c, r]) await client.createSandbox(n, { sleep: { warm_after: 'off', cold_after: 'off' } });
    await client.sandbox(w).sleep();
    await client.sandbox(c).sleep({ cold: true });
    await burrow.stop('SIGKILL');
    await burrow.start();
    client = burrow.client();
    const status = async (n: string) => (await client.sandbox(n).refresh()).status;
    expect([await status(w), await status(c), await status(r)]).toEqual(['warm', 'cold', 'running']);
    expect((await client.sandbox(w).exec('echo', ['w'])).stdout).toBe('w\n');
    expect((await client.sandbox(c).exec('echo', ['c'])).stdout).toBe('c\n');
  });
});

describe('a crash in the middle of a cold sleep', () => {
  it('leaves a sandbox that works, and the sleep can be asked again', async () => {
    const n = sandboxName('crash-sleep');
    await client.createSandbox(n, { sleep: { warm_after: 'off', cold_after: 'off' } });
    await client.sandbox(n).exec('sh', ['-c', 'echo kept > ~/f']);
    await burrow.stop();
    await burrow.start({ BURROW_CRASH_AT: 'sleep:cold' });
    await expect(burrow.client().sandbox(n).sleep({ cold: true })).rejects.toThrow();
    await burrow.exited();
    await burrow.start();
    client = burrow.client();
    expect((await client.sandbox(n).exec('cat', ['/home/user/f'])).stdout).toBe('kept\n');
    expect((await client.sandbox(n).sleep({ cold: true })).status).toBe('cold');
    expect((await client.sandbox(n).exec('cat', ['/home/user/f'])).stdout).toBe('kept\n');
  });
});
