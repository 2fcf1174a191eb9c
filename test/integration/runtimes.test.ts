// The core of what a sandbox does, through the API as a user drives it, once per runtime: gVisor,
// runc with its user namespace, and a QEMU microVM (under TCG here: slow, so one sandbox per
// runtime serves every test in order). Commands with stdin and a terminal, the in-sandbox API,
// sessions, services, metering, the fs API, its URL and the TCP proxy, port events, the egress
// policy, checkpoint, restore, fork and the checkpoint views, sleep and wake, kill, and destroy
// leaving nothing behind. Secrets through the egress proxy are proven for each runtime in
// egress.test.ts; what only one runtime has is in its own file (user-namespace, containment, vm-*).
import type { Runtime } from '@burrow/protocol';
import type { BurrowClient, PortEvent, Sandbox } from '@burrow/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecSocket } from '../support/exec-socket.js';
import { FakeInternet } from '../support/fake-internet.js';
import { hostState } from '../support/host-state.js';
import { BurrowInstance, sandboxName } from '../support/instance.js';
import { tcpConnect } from '../support/net-probe.js';
import { pageThroughProxy } from '../support/sandbox-port.js';
import { requestSandboxUrl } from '../support/sandbox-url.js';
import { until } from '../support/until.js';

/** Each runtime with the limits its sandbox is made with: a guest's RAM is taken from the host at boot. */
const RUNTIMES: Array<{ runtime: Runtime; config?: { ram_mb: number } }> = [{ runtime: 'gvisor' }, { runtime: 'runc' }, { runtime: 'vm', config: { ram_mb: 512 } }];

let burrow: BurrowInstance;
let internet: FakeInternet;
let client: BurrowClient;

beforeAll(async () => {
  internet = new FakeInternet();
  await internet.start({ 'allowed.test': 10, 'other.test': 11 });
  burrow = await BurrowInstance.create({ BURROW_IMAGE: 'minimal', BURROW_WARM_AFTER: 'off', BURROW_DNS_UPSTREAM: `127.0.0.1:${internet.dnsPort}` });
  await burrow.start();
  client = burrow.client();
});

afterAll(async () => {
  await burrow?.destroy();
  await internet?.destroy();
});

describe.for(RUNTIMES)('a $runtime sandbox', { timeout: 300_000 }, ({ runtime, config }) => {
  const name = sandboxName(`rt-${runtime}`);
  let box: Sandbox;

  beforeAll(async () => {
    box = await client.createSandbox(name, { runtime, config });
  }, 600_000);

  afterAll(async () => {
    await box?.delete().catch(() => {});
  });

  it('runs commands with stdin, exit codes and a terminal', async () => {
    expect(await box.refresh()).toMatchObject({ status: 'running', runtime });
    const piped = await box.exec('sh', ['-c', 'tr a-z A-Z; exit 7'], { stdin: 'shout\n' });
    expect(piped).toMatchObject({ exitCode: 7, stdout: 'SHOUT\n' });
    expect((await box.exec('id', ['-un'])).stdout).toBe('user\n');
    expect((await box.exec('hostname')).stdout).toBe(`${name}\n`);
    const s = await ExecSocket.open(burrow, `/v1/sprites/${name}/exec?cmd=bash&tty=true&rows=30&cols=90`);
    s.send(Buffer.from('tty; stty size; exit 3\n'));
    await s.closed();
    expect(s.text()).toMatch(/\/dev\/pts\/\d+/);
    expect(s.text()).toContain('30 90');
    expect(s.notices().at(-1)).toEqual({ type: 'exit', exit_code: 3 });
  });

  it('answers the in-sandbox API: burrow-env knows its sandbox, and checkpoints it', async () => {
    expect(JSON.parse((await box.exec('burrow-env', ['info'])).stdout)).toMatchObject({ name });
    const made = await box.exec('burrow-env', ['checkpoint', 'create', '-m', 'made inside']);
    expect(made.exitCode).toBe(0);
    expect((await box.listCheckpoints()).find((c) => c.id === made.stdout.trim())?.comment).toBe('made inside');
  });

  it('has the devices programs expect: /dev/fd for process substitution, /dev/shm for shared memory', async () => {
    expect((await box.exec('bash', ['-c', 'cat <(echo substituted)'])).stdout).toBe('substituted\n');
    const shared = "from multiprocessing import shared_memory as s; m = s.SharedMemory(create=True, size=8); m.buf[0] = 42; print(m.buf[0]); m.close(); m.unlink()";
    expect((await box.exec('python3', ['-c', shared])).stdout).toBe('42\n');
  });

  it('reads and writes files through the fs API', async () => {
    await box.fs.writeFile('/home/user/notes/hello.txt', 'from the host');
    expect((await box.exec('cat', ['/home/user/notes/hello.txt'])).stdout).toBe('from the host');
    expect((await box.fs.readFile('/home/user/notes/hello.txt')).toString()).toBe('from the host');
    expect((await box.fs.readdir('/home/user/notes')).map((e) => e.name)).toEqual(['hello.txt']);
  });

  it('serves an app bound to its localhost at its URL, to the token only, and through the TCP proxy', async () => {
    await box.exec('sh', ['-c', 'mkdir -p /tmp/site && echo "served by $(hostname)" > /tmp/site/index.html']);
    await box.exec('sh', ['-c', 'cd /tmp/site && setsid python3 -m http.server 8080 --bind 127.0.0.1 >/dev/null 2>&1 < /dev/null &']);
    expect(await pageThroughProxy(box, 8080)).toContain(`served by ${name}`);
    const page = await requestSandboxUrl(burrow.url, name, '/', { Authorization: `Bearer ${burrow.token}` });
    expect(page).toMatchObject({ status: 200, body: `served by ${name}\n` });
    expect((await requestSandboxUrl(burrow.url, name, '/')).status).toBe(401);
  });

  it('reports the ports it opens and closes, with the pid that listens', async () => {
    const events: PortEvent[] = [];
    const watcher = box.watchPorts((e) => events.push(e));
    try {
      await watcher.ready;
      const seen = () => events.map((e) => `${e.type} ${e.port} ${e.pid}`);
      await box.exec('sh', ['-c', 'setsid python3 -m http.server 8765 >/dev/null 2>&1 < /dev/null & echo $! > /tmp/server.pid']);
      const pid = Number((await box.exec('cat', ['/tmp/server.pid'])).stdout.trim());
      await expect.poll(seen, { timeout: 30_000 }).toContain(`port_opened 8765 ${pid}`);
      await box.exec('kill', [String(pid)]);
      await expect.poll(seen, { timeout: 30_000 }).toContain(`port_closed 8765 ${pid}`);
    } finally {
      watcher.close();
    }
  });

  it('reaches only the names its egress policy allows, and all again without one', async () => {
    await box.setNetworkPolicy({ rules: [{ domain: 'allowed.test', action: 'allow' }] });
    expect((await box.exec('curl', ['-sS', '-m', '20', 'http://allowed.test/'])).stdout).toBe(`hello from ${internet.address(10)}\n`);
    expect((await box.exec('curl', ['-sS', '-m', '20', 'http://other.test/'])).exitCode).not.toBe(0);
    expect(await tcpConnect(box, internet.address(11), 80)).toBe('timeout');
    await box.setNetworkPolicy({ rules: [] });
    expect((await box.exec('curl', ['-sS', '-m', '20', 'http://other.test/'])).stdout).toBe(`hello from ${internet.address(11)}\n`);
  });

  it('checkpoints and restores its files, /tmp included, and forks a checkpoint', async () => {
    await box.exec('sh', ['-c', 'echo before > /home/user/state; echo kept > /tmp/scratch']);
    const checkpoint = await box.createCheckpoint('before the damage');
    await box.exec('sh', ['-c', 'echo after > /home/user/state; rm /tmp/scratch']);
    await box.restoreCheckpoint(checkpoint.id);
    expect((await box.exec('cat', ['/home/user/state', '/tmp/scratch'])).stdout).toBe('before\nkept\n');

    const fork = await box.fork(checkpoint.id, sandboxName(`rt-${runtime}-fork`));
    try {
      expect(await fork.refresh()).toMatchObject({ runtime, status: 'running' });
      expect((await fork.exec('cat', ['/home/user/state'])).stdout).toBe('before\n');
      expect((await fork.exec('hostname')).stdout).toBe(`${fork.name}\n`);
    } finally {
      await fork.delete();
    }
  });

  it('keeps a terminal session running without its client, and replays it on attach', async () => {
    const session = await box.createSession('bash', [], { tty: true, rows: 30, cols: 90 });
    let seen = '';
    session.stdout.on('data', (b: Buffer) => (seen += b.toString()));
    session.stdin.write('echo "mark-$((6 * 7))"\n');
    await until('the session to answer', async () => seen, { accept: (text) => text.includes('mark-42') });
    session.detach();
    expect((await box.listSessions()).find((s) => s.id === session.sessionId)).toMatchObject({ tty: true, is_active: true });
    const again = await box.attachSession(session.sessionId!);
    let replay = '';
    again.stdout.on('data', (b: Buffer) => (replay += b.toString()));
    await until('the scrollback', async () => replay, { accept: (text) => text.includes('mark-42') });
    expect(await box.killSession(session.sessionId!, { signal: 'SIGKILL', timeout: '5s' })).toBe(137);
  });

  it('runs a service as the sandbox user, with its log inside and through the API', async () => {
    const events = await box.services.put('ticker', { cmd: 'sh', args: ['-c', 'echo "up as $(id -un)"; echo up >> ~/ticker-starts; exec sleep 1000'] }, { duration: '2s' });
    expect(events[0]?.type).toBe('started');
    expect((await box.services.get('ticker')).state).toMatchObject({ status: 'running', restart_count: 0 });
    const logFile = () => box.exec('cat', ['/.burrow/logs/services/ticker.log']).then((r) => r.stdout);
    await until('the service log inside', logFile, { accept: (text) => text === 'up as user\n' });
    const logged = await box.services.logs('ticker', { lines: 10 });
    expect(logged.filter((e) => e.type === 'stdout').map((e) => e.data)).toEqual(['up as user\n']);
  });

  it('is metered: the CPU its commands burn shows in its usage', async () => {
    const cpuSeconds = async () => (await box.usage({ from: new Date(Date.now() - 3_600_000) })).sprites.find((s) => s.name === name)?.cpu_seconds ?? 0;
    const before = await cpuSeconds();
    const burn = await box.exec('python3', ['-c', 'import time\nt = time.process_time()\nwhile time.process_time() - t < 1: pass']);
    expect(burn.exitCode).toBe(0);
    // The meter samples once a second.
    await until('the burnt CPU in the usage', cpuSeconds, { accept: (now) => now - before >= 0.8, timeoutMs: 30_000 });
  });

  it('shows its newest checkpoints read-only at /.burrow/checkpoints, as they were, until they are deleted, also those taken asleep', async () => {
    await box.exec('sh', ['-c', 'echo one > /home/user/viewed']);
    const first = await box.createCheckpoint('first view');
    await box.exec('sh', ['-c', 'echo two > /home/user/viewed']);
    const second = await box.createCheckpoint('second view');
    const view = (id: string) => `/.burrow/checkpoints/${id}/home/user/viewed`;
    expect((await box.exec('cat', [view(first.id), view(second.id), '/home/user/viewed'])).stdout).toBe('one\ntwo\ntwo\n');
    const write = await box.exec('sudo', ['sh', '-c', `echo three > ${view(first.id)}`]);
    expect(write.exitCode).not.toBe(0);
    await box.deleteCheckpoint(first.id);
    const listed = (await box.exec('ls', ['/.burrow/checkpoints'])).stdout.split('\n');
    expect(listed).toContain(second.id);
    expect(listed).not.toContain(first.id);
    expect((await box.exec('cat', [view(second.id)])).stdout).toBe('two\n');
    // Taken while it sleeps warm: there when it wakes.
    expect((await box.sleep()).status).toBe('warm');
    const asleep = await box.createCheckpoint('taken asleep');
    expect((await box.exec('cat', [view(asleep.id)])).stdout).toBe('two\n');
  });

  it('sleeps warm with its processes and cold with its files, and wakes on the next command', async () => {
    await box.exec('sh', ['-c', 'echo slept > /home/user/sleep; setsid sleep 1000 >/dev/null 2>&1 < /dev/null & echo $! > /tmp/sleeper.pid']);
    const sleeper = (await box.exec('cat', ['/tmp/sleeper.pid'])).stdout.trim();
    expect((await box.sleep()).status).toBe('warm');
    expect((await box.exec('ps', ['-o', 'comm=', '-p', sleeper])).stdout).toBe('sleep\n');
    expect((await box.sleep({ cold: true })).status).toBe('cold');
    expect((await box.exec('cat', ['/home/user/sleep'])).stdout).toBe('slept\n');
    expect((await box.refresh()).status).toBe('running');
    // Its service started again with it.
    const starts = () => box.exec('cat', ['/home/user/ticker-starts']).then((r) => r.stdout);
    await until('the service to start again', starts, { accept: (text) => text === 'up\nup\n' });
    expect((await box.services.get('ticker')).state.status).toBe('running');
  });

  it('ends its processes on kill, and keeps answering', async () => {
    await box.exec('sh', ['-c', 'for i in 1 2 3; do setsid sleep 1000 >/dev/null 2>&1 < /dev/null & done']);
    expect((await box.killProcesses()).killed).toBeGreaterThanOrEqual(3);
    expect((await box.exec('pgrep', ['-c', 'sleep'])).stdout).toBe('0\n');
    expect((await box.exec('echo', ['still here'])).stdout).toBe('still here\n');
  });

  it('is destroyed with everything it had on the host', async () => {
    await box.delete();
    const left = hostState(burrow.config);
    expect(left).toMatchObject({ rows: [], containers: [], cgroups: [], subvolumes: [], snapshots: [], netns: [], links: [], rules: [], addresses: [], mounts: [] });
  });
});
