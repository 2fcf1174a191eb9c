// `vm` sandboxes through the API, as a user drives them, booted for real under TCG (these hosts
// have no usable KVM; slow, so one sandbox serves every test in order): create, exec with stdin
// and a terminal, the in-sandbox API, the fs API, port events, checkpoint and restore (the disk is a file in
// the sandbox's subvolume), sleep and wake, limits, kill, and destroy leaving nothing behind.
import { execFileSync } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BurrowClient, PortEvent, Sandbox } from '@burrow/sdk';
import { poolLayout } from '@burrow/server/testing';
import { ExecSocket } from '../support/exec-socket.js';
import { hostState, machinesOf } from '../support/host-state.js';
import { sandboxName } from '../support/instance.js';
import { pageThroughProxy } from '../support/sandbox-port.js';
import { useInstance } from '../support/use-instance.js';

const burrow = useInstance({ BURROW_IMAGE: 'minimal', BURROW_WARM_AFTER: 'off' });
const name = sandboxName('vm');
let client: BurrowClient;
let box: Sandbox;

/** QEMU processes of this instance still running: what destroy must leave none of. */
const machinesOfThisInstance = () => machinesOf(burrow.home);

beforeAll(async () => {
  client = burrow.client();
  box = await client.createSandbox(name, { runtime: 'vm', config: { ram_mb: 512, storage_gb: 4 } });
}, 600_000);

afterAll(async () => {
  await box?.delete().catch(() => {});
});

describe('a vm sandbox, under TCG', { timeout: 300_000 }, () => {
  it('runs in a machine of its own: its own kernel, the disk grown to storage_gb, the sandbox user', async () => {
    const sprite = await box.refresh();
    expect(sprite).toMatchObject({ status: 'running', runtime: 'vm' });
    expect(sprite.isolation).toMatch(/microVM/);
    const kernel = await box.exec('uname', ['-r']);
    expect(kernel.stdout.trim()).not.toBe(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
    expect(kernel.stdout).toMatch(/cloud-amd64/);
    const whoami = await box.exec('id', ['-un']);
    expect(whoami.stdout).toBe('user\n');
    expect((await box.exec('hostname')).stdout).toBe(`${name}\n`);
    const df = await box.exec('df', ['-B1', '--output=size', '/']);
    const rootBytes = Number(df.stdout.trim().split('\n').at(-1));
    expect(rootBytes).toBeGreaterThan(3.5 * 2 ** 30);
    expect(machinesOfThisInstance()).toHaveLength(1);
  });

  it('runs commands with stdin, exit codes and a terminal', async () => {
    const piped = await box.exec('sh', ['-c', 'tr a-z A-Z; exit 7'], { stdin: 'shout\n' });
    expect(piped).toMatchObject({ exitCode: 7, stdout: 'SHOUT\n' });
    const s = await ExecSocket.open(burrow, `/v1/sprites/${name}/exec?cmd=bash&tty=true&rows=30&cols=90`);
    s.send(Buffer.from('tty; stty size; exit 3\n'));
    await s.closed();
    expect(s.text()).toMatch(/\/dev\/pts\/\d+/);
    expect(s.text()).toContain('30 90');
    expect(s.notices().at(-1)).toEqual({ type: 'exit', exit_code: 3 });
  });

  it('answers the in-sandbox API inside: burrow-env knows its sandbox, and checkpoints it', async () => {
    expect((await box.exec('ls', ['-l', '/.burrow/api/api.sock'])).stdout).toMatch(/^srw-rw-rw-/);
    const info = await box.exec('burrow-env', ['info']);
    expect(info.exitCode).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ name });
    const made = await box.exec('burrow-env', ['checkpoint', 'create', '-m', 'made inside the machine']);
    expect(made.exitCode).toBe(0);
    const id = made.stdout.trim();
    expect((await box.listCheckpoints()).find((c) => c.id === id)?.comment).toBe('made inside the machine');
  });

  it('reads and writes files through the fs API', async () => {
    await box.fs.writeFile('/home/user/notes/hello.txt', 'from the host');
    expect((await box.exec('cat', ['/home/user/notes/hello.txt'])).stdout).toBe('from the host');
    expect((await box.fs.readFile('/home/user/notes/hello.txt')).toString()).toBe('from the host');
    expect((await box.fs.readdir('/home/user/notes')).map((e) => e.name)).toEqual(['hello.txt']);
  });

  it('holds its address on its network: the TCP proxy reaches a server in the guest', async () => {
    await box.exec('sh', ['-c', 'mkdir -p /tmp/site && echo "served by $(hostname)" > /tmp/site/index.html']);
    await box.exec('sh', ['-c', 'cd /tmp/site && nohup python3 -m http.server 8080 >/dev/null 2>&1 &']);
    const page = await pageThroughProxy(box, 8080);
    expect(page).toMatch(/^HTTP\/1.0 200/);
    expect(page).toContain(`served by ${name}`);
    const resolv = await box.exec('cat', ['/etc/resolv.conf']);
    expect(resolv.stdout).toMatch(/^nameserver \d+\.\d+\.\d+\.\d+$/m);
  });

  it('reports the ports the guest opens and closes, with the pid inside that listens', async () => {
    const events: PortEvent[] = [];
    const watcher = box.watchPorts((e) => events.push(e));
    try {
      const listed = await watcher.ready;
      const seen = () => events.map((e) => `${e.type} ${e.port} ${e.pid}`);
      // The server of the test before, listed at once or reported by the next poll.
      await expect.poll(() => [...listed.map((p) => `port_opened ${p.port}`), ...seen()].join(' '), { timeout: 30_000 }).toMatch(/port_opened 8080\b/);
      await box.exec('sh', ['-c', 'nohup python3 -m http.server 8765 >/dev/null 2>&1 & echo $! > /tmp/server.pid']);
      const pid = Number((await box.exec('cat', ['/tmp/server.pid'])).stdout.trim());
      await expect.poll(seen, { timeout: 30_000 }).toContain(`port_opened 8765 ${pid}`);
      await box.exec('kill', [String(pid)]);
      await expect.poll(seen, { timeout: 30_000 }).toContain(`port_closed 8765 ${pid}`);
    } finally {
      watcher.close();
    }
  });

  it('checkpoints and restores its disk, /tmp included', async () => {
    await box.exec('sh', ['-c', 'echo before > /home/user/state; echo kept > /tmp/scratch']);
    const checkpoint = await box.createCheckpoint('before the damage');
    await box.exec('sh', ['-c', 'echo after > /home/user/state; rm /tmp/scratch']);
    await box.restoreCheckpoint(checkpoint.id);
    expect((await box.exec('cat', ['/home/user/state', '/tmp/scratch'])).stdout).toBe('before\nkept\n');

    // The disk is one file in the sandbox's subvolume, so a checkpoint is a snapshot of it.
    const sandboxes = poolLayout(burrow.config).sandboxes;
    const [id] = (await readdir(sandboxes)).filter((entry) => !entry.includes('.'));
    expect((await stat(join(sandboxes, id!, 'disk.ext4'))).size).toBe(4 * 2 ** 30);

    const fork = await box.fork(checkpoint.id, sandboxName('vm-fork'));
    try {
      expect((await fork.refresh()).runtime).toBe('vm');
      expect((await fork.exec('cat', ['/home/user/state'])).stdout).toBe('before\n');
      expect((await fork.exec('hostname')).stdout).toBe(`${fork.name}\n`);
    } finally {
      await fork.delete();
    }
  });

  it('refuses to become an OCI archive, and an archive to become a vm sandbox, saying why', async () => {
    await expect(box.export()).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/vm sandboxes are not exported/) });
    const refused = client.importSandbox(sandboxName('vm-import'), (async function* () {
      yield new Uint8Array(512);
    })(), { runtime: 'vm' });
    await expect(refused).rejects.toMatchObject({ status: 400, code: 'invalid_request' });
    expect((await client.listSandboxes()).map((s) => s.name)).toEqual([name]);
  });

  it('sleeps warm (paused) and cold (stopped), and wakes with its files', async () => {
    await box.exec('sh', ['-c', 'echo slept > /home/user/sleep']);
    expect((await box.sleep()).status).toBe('warm');
    expect((await box.exec('cat', ['/home/user/sleep'])).stdout).toBe('slept\n');
    expect((await box.sleep({ cold: true })).status).toBe('cold');
    expect(machinesOfThisInstance()).toHaveLength(0);
    expect((await box.exec('cat', ['/home/user/sleep'])).stdout).toBe('slept\n');
  });

  it('ends every process but init and its bridge on kill, and keeps answering', async () => {
    await box.exec('sh', ['-c', 'for i in 1 2 3; do nohup sleep 1000 >/dev/null 2>&1 & done']);
    expect((await box.killProcesses()).killed).toBeGreaterThanOrEqual(3);
    expect((await box.exec('pgrep', ['-c', 'sleep'])).stdout).toBe('0\n');
    expect((await box.exec('echo', ['still here'])).stdout).toBe('still here\n');
  });

  it('keeps running through a daemon crash, and a create cut short by one leaves nothing behind', async () => {
    const [machine] = machinesOfThisInstance();
    await burrow.stop();
    await burrow.start({ BURROW_CRASH_AT: 'create:started' });
    const cut = sandboxName('vm-cut');
    await expect(burrow.client().createSandbox(cut, { runtime: 'vm' })).rejects.toThrow();
    await burrow.exited();
    await burrow.start();
    // The restarted daemon listens on a port of its own.
    client = burrow.client();
    box = client.sandbox(name);
    await expect(client.getSandbox(cut)).rejects.toMatchObject({ status: 404 });
    expect(machinesOfThisInstance()).toEqual([machine]);
    const state = hostState(burrow.config);
    expect(state.rows).toEqual([name]);
    expect(state.containers).toHaveLength(1);
    expect(state.cgroups).toHaveLength(1);
    expect((await box.exec('echo', ['still running'])).stdout).toBe('still running\n');
    // The new daemon offers the machine its sockets again.
    expect(JSON.parse((await box.exec('burrow-env', ['info'])).stdout)).toMatchObject({ name });
  });

  it('takes new limits at its next boot, and refuses to shrink its disk', async () => {
    await expect(box.updateLimits({ storage_gb: 2 })).rejects.toMatchObject({ status: 409 });
    await box.updateLimits({ ram_mb: 768 });
    await box.restart();
    const memTotalKb = Number(/MemTotal:\s+(\d+)/.exec((await box.exec('cat', ['/proc/meminfo'])).stdout)?.[1]);
    expect(memTotalKb).toBeGreaterThan(600 * 1024);
  });

  it('is destroyed with its machine, disk and cgroup', async () => {
    await box.delete();
    expect(machinesOfThisInstance()).toHaveLength(0);
    const sandboxes = poolLayout(burrow.config).sandboxes;
    expect((await readdir(sandboxes)).filter((entry) => !entry.includes('.'))).toEqual([]);
    const cgroups = await readdir('/sys/fs/cgroup/memory');
    expect(cgroups.filter((c) => c.startsWith(`burrow-${burrow.config.instanceTag}-`))).toEqual([]);
  });
});
