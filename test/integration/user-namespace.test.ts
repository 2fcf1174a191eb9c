// runc sandboxes in user namespaces of their own: root inside is an unprivileged id range on the
// host, distinct per sandbox, and everything that moves a disk between sandboxes keeps its files'
// owners right inside.
import { lstatSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BurrowClient, Sandbox } from '@burrow/sdk';
import { FIRST_ID_BASE, ID_RANGE_SIZE, shiftOwnership } from '@burrow/server/testing';
import { sandboxName } from '../support/instance.js';
import { useInstance } from '../support/use-instance.js';

const burrow = useInstance();
let client: BurrowClient;
let first: Sandbox;
let second: Sandbox;

beforeAll(async () => {
  client = burrow.client();
  [first, second] = await Promise.all([
    client.createSandbox(sandboxName('userns-a'), { runtime: 'runc' }),
    client.createSandbox(sandboxName('userns-b'), { runtime: 'runc' }),
  ]);
});

/** The host id that root inside the sandbox is: the start of its range. */
async function idBaseOf(sandbox: Sandbox): Promise<number> {
  const map = (await sandbox.exec('cat', ['/proc/self/uid_map'])).stdout.trim().split(/\s+/).map(Number);
  expect(map[0]).toBe(0);
  expect(map[2]).toBe(ID_RANGE_SIZE);
  return map[1]!;
}

const upperOf = (sandbox: Sandbox) => join(burrow.config.pool.mountpoint, 'sandboxes', sandbox.info!.id, 'upper');

describe('a runc sandbox', () => {
  it('maps root inside to an unprivileged host range, not to host root', async () => {
    const base = await idBaseOf(first);
    expect(base).toBeGreaterThanOrEqual(FIRST_ID_BASE);
    expect((await first.exec('sudo', ['id', '-u'])).stdout).toBe('0\n');
  });

  it('gives two sandboxes disjoint ranges', async () => {
    const [a, b] = [await idBaseOf(first), await idBaseOf(second)];
    expect(Math.abs(a - b)).toBeGreaterThanOrEqual(ID_RANGE_SIZE);
  });

  it('writes files that the host sees owned by the sandbox’s range', async () => {
    const base = await idBaseOf(first);
    expect((await first.exec('sh', ['-c', 'echo mine > /home/user/mine && sudo sh -c "echo root > /root/root-file"'])).exitCode).toBe(0);
    const mine = lstatSync(join(upperOf(first), 'home/user/mine'));
    expect([mine.uid, mine.gid]).toEqual([base + 1000, base + 1000]);
    const rootFile = lstatSync(join(upperOf(first), 'root/root-file'));
    expect([rootFile.uid, rootFile.gid]).toEqual([base, base]);
  });

  it('cannot read a host file only host root may read, even as root inside', async () => {
    // The in-sandbox API directory is a host directory bind-mounted into the sandbox.
    const hostDir = join(burrow.config.home, 'sandboxes', first.info!.id, 'api');
    writeFileSync(join(hostDir, 'host-secret'), 'host root only\n', { mode: 0o600 });
    writeFileSync(join(hostDir, 'host-public'), 'anyone\n', { mode: 0o644 });
    expect((await first.exec('sudo', ['cat', '/.burrow/api/host-public'])).stdout).toBe('anyone\n');
    const secret = await first.exec('sudo', ['cat', '/.burrow/api/host-secret']);
    expect(secret.exitCode).not.toBe(0);
    expect(secret.stderr).toMatch(/Permission denied/);
  });

  it('lets root (and user) serve on ports below 1024, as on any Linux box', async () => {
    const bind = 'import socket; s = socket.socket(); s.bind(("0.0.0.0", 80)); print("bound")';
    expect((await first.exec('sudo', ['python3', '-c', bind])).stdout).toBe('bound\n');
    expect((await first.exec('python3', ['-c', bind])).stdout).toBe('bound\n');
  });

  it('refuses io_uring to root', async () => {
    const probe = 'import ctypes; l = ctypes.CDLL(None, use_errno=True); r = l.syscall(425, 1, ctypes.create_string_buffer(120)); print(r, ctypes.get_errno())';
    expect((await first.exec('sudo', ['python3', '-c', probe])).stdout).toBe('-1 1\n');
  });

  it('gives a fork a range of its own, its files moved into it', async () => {
    await first.exec('sh', ['-c', 'echo forked > /home/user/forked && sudo chmod u+s /home/user/forked && sudo touch /root/root-file']);
    const checkpoint = await first.createCheckpoint('before fork');
    const fork = await first.fork(checkpoint.id, sandboxName('userns-fork'));
    const base = await idBaseOf(fork);
    expect(base).not.toBe(await idBaseOf(first));
    const listing = await fork.exec('sudo', ['stat', '-c', '%U %G %A', '/home/user/forked', '/root/root-file']);
    expect(listing.stdout).toBe('user user -rwSr--r--\nroot root -rw-r--r--\n');
    const onHost = lstatSync(join(upperOf(fork), 'home/user/forked'));
    expect([onHost.uid, onHost.gid]).toEqual([base + 1000, base + 1000]);
    await fork.delete();
  });

  it('moves a disk written before user namespaces (host ids 0-65535) into its range on the next boot', async () => {
    const base = await idBaseOf(second);
    await second.exec('sh', ['-c', 'echo old > /home/user/old && mkdir -p /home/user/d && ln -s /etc/passwd /home/user/d/link']);
    await second.sleep({ cold: true });
    // What an older burrow left on disk: the same tree, owned by the host's own ids.
    await shiftOwnership(join(burrow.config.pool.mountpoint, 'sandboxes', second.info!.id), base, 0);
    expect(lstatSync(join(upperOf(second), 'home/user/old')).uid).toBe(1000);
    const after = await second.exec('stat', ['-c', '%U %G', '/home/user/old', '/home/user/d', '/home/user/d/link']);
    expect(after.stdout).toBe('user user\nuser user\nuser user\n');
    expect(lstatSync(join(upperOf(second), 'home/user/old')).uid).toBe(base + 1000);
    expect(lstatSync('/etc/passwd').uid).toBe(0); // the link was not followed
  });

  it('boots in the host’s namespace while BURROW_RUNC_USERNS is off, and back in its own range when on', async () => {
    const base = await idBaseOf(second);
    const mine = join(upperOf(second), 'home/user/old');
    const restart = async (env: Record<string, string>) => {
      await burrow.client().sandbox(second.name).sleep({ cold: true });
      await burrow.stop();
      await burrow.start(env);
      return burrow.client().sandbox(second.name);
    };
    const unmapped = await restart({ BURROW_RUNC_USERNS: 'off' });
    expect((await unmapped.exec('cat', ['/proc/self/uid_map'])).stdout.trim().split(/\s+/)).toEqual(['0', '0', '4294967295']);
    expect((await unmapped.exec('stat', ['-c', '%U', '/home/user/old'])).stdout).toBe('user\n');
    expect(lstatSync(mine).uid).toBe(1000);

    const mapped = await restart({});
    expect(await idBaseOf(mapped)).toBe(base);
    expect((await mapped.exec('stat', ['-c', '%U', '/home/user/old'])).stdout).toBe('user\n');
    expect(lstatSync(mine).uid).toBe(base + 1000);
  });
});
