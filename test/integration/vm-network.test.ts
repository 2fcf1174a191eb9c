// A `vm` sandbox on its network, for real: the sandbox's namespace built as the daemon builds it
// (address pool, veth, burrow's nftables table, the DNS resolver with the egress policy), laid out
// for a machine (a bridge to a tap), and a guest booted under TCG on that tap. The guest holds
// the sandbox's address, the host reaches a server it runs, it reaches burrow's services on the
// gateway and the internet through the host, and the host's rules and policy still refuse what
// they refuse a container.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddressPool,
  DnsResolver,
  DiskImages,
  diskLayout,
  ensureVmAssets,
  GuestChannel,
  HostFirewall,
  hostTscKhz,
  ImageStore,
  NetnsManager,
  NetworkStore,
  openDatabase,
  PolicyClients,
  poolLayout,
  SandboxNetworks,
  SandboxStore,
  startMachine,
  stopMachine,
  VethPairs,
  vethPrefix,
  runInGuest,
  VmRuntime,
  MACHINE_NETWORK_ANNOTATION,
  type MachineLink,
  type RunningMachine,
  type VmAssets,
} from '@burrow/server/testing';
import { FakeInternet } from '../support/fake-internet.js';
import { until } from '../support/until.js';
import { sandboxName } from '../support/instance.js';
import { processesNaming } from '../support/host-state.js';
import { useInstance } from '../support/use-instance.js';

const burrow = useInstance({ BURROW_IMAGE: 'minimal' });
const MiB = 2 ** 20;
const SANDBOX = 'vm-net';
const GUEST_PORT = 8080;
/** curl's exit codes: no answer within --max-time (dropped); a name that did not resolve; refused. */
const CURL_TIMED_OUT = 28;
const CURL_NO_HOST = 6;
const CURL_REFUSED = 7;

/** A host HTTP server on every address that answers `body` and counts who asked. */
async function listen(body: string): Promise<{ server: Server; port: number; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.socket.remoteAddress ?? '');
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  return { server, port: (server.address() as AddressInfo).port, requests };
}

/** The mean time of sequential GETs of `url`, after one to warm up. */
async function meanRoundTrip(url: string, rounds = 20): Promise<number> {
  await fetch(url).then((r) => r.text());
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) await fetch(url).then((r) => r.text());
  return (performance.now() - t0) / rounds;
}

function linksIn(netnsName: string): string[] {
  const out = execFileSync('ip', ['-n', netnsName, '-j', 'link', 'show'], { encoding: 'utf8' });
  return (JSON.parse(out) as Array<{ ifname: string; master?: string }>).map((l) => (l.master ? `${l.ifname}@${l.master}` : l.ifname)).sort();
}

/** The namespace's IPv4 addresses but loopback's. */
function addressesIn(netnsName: string): string[] {
  const out = execFileSync('ip', ['-n', netnsName, '-j', '-4', 'addr', 'show'], { encoding: 'utf8' });
  return (JSON.parse(out) as Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number }> }>)
    .filter((l) => l.ifname !== 'lo')
    .flatMap((l) => l.addr_info.map((a) => `${l.ifname} ${a.local}/${a.prefixlen}`));
}

describe('a vm sandbox on its network under TCG', () => {
  // An instance tag of the test's own (the daemon's reconciler owns `bw<its tag>*`), so the
  // namespace, veth and table below are this test's alone.
  const tag = `vn${burrow.config.instanceTag.slice(0, 5)}`;
  const netns = new NetnsManager(`burrow-${tag}-`);
  const veths = new VethPairs(vethPrefix(tag));
  const internet = new FakeInternet();
  let firewall: HostFirewall;
  let networks: SandboxNetworks;
  let policies: PolicyClients;
  let resolver: DnsResolver | undefined;
  let db: ReturnType<typeof openDatabase> | undefined;
  let assets: VmAssets;
  let disks: DiskImages;
  let imageId: string;
  let imageDisk: string;
  let gatewayService: Awaited<ReturnType<typeof listen>>;
  let hostOnly: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    assets = await ensureVmAssets(burrow.config.imageCache);
    disks = new DiskImages(diskLayout(poolLayout(burrow.config).root));
    const images = new ImageStore(burrow.config, poolLayout(burrow.config));
    imageId = images.idFor('minimal');
    imageDisk = await disks.ensureImage(imageId, images.pathOf(imageId), { sizeBytes: 2 * 1024 * MiB });
    await disks.clone(imageDisk, SANDBOX);
    await internet.start({ 'allowed.vm.test': 10, 'denied.vm.test': 11 });

    // The network stage of `burrow serve` (wiring/network.ts), on a database of its own.
    const pool = new AddressPool(burrow.config.network.pool);
    firewall = new HostFirewall(`burrow-${tag}`, vethPrefix(tag), pool.cidr);
    db = openDatabase(join(burrow.home, 'vm-network.db'));
    networks = new SandboxNetworks({ netns, veths, firewall, store: new NetworkStore(db), pool, filesDir: join(burrow.home, 'vm-network') });
    policies = new PolicyClients(networks, firewall);
    resolver = new DnsResolver({ host: '127.0.0.1', port: internet.dnsPort }, (address) => policies.clientAt(address));
    firewall.addGatewayService({ name: 'dns', protocols: ['udp', 'tcp'], port: await resolver.start(), redirectFrom: [53] });
    // Another service of burrow's on every gateway address, as the egress proxy is; and a port
    // of the host that is no service of burrow's.
    gatewayService = await listen('from the gateway');
    hostOnly = await listen('never seen');
    firewall.addGatewayService({ name: 'probe', protocols: ['tcp'], port: gatewayService.port });

    // The sandbox's row, which its address allocation belongs to, as the daemon's database has it.
    const now = new Date().toISOString();
    new SandboxStore(db).insert({
      id: SANDBOX, name: SANDBOX, status: 'running', runtime: 'vm', image: imageId, imageName: 'minimal',
      cpus: 1, ramMb: 512, storageGb: 2, pidsLimit: 4096, environment: {}, labels: [], urlSettings: { auth: 'sprite' },
      failureReason: null, containerId: '', createdAt: now, updatedAt: now, lastRunningAt: null, lastWarmingAt: null,
      warmAfterMs: null, coldAfterMs: null, idBase: null,
    });
  }, 600_000);

  afterAll(async () => {
    gatewayService?.server.close();
    hostOnly?.server.close();
    await resolver?.close();
    await networks?.detach(SANDBOX);
    await firewall?.removeTable();
    db?.close();
    await internet.destroy();
    await disks?.removeSandboxDisk(SANDBOX);
    if (imageId) await disks?.removeImage(imageId);
  });

  it("lays a namespace out for a machine from any state: a container's, a half-made one, its own", async () => {
    const name = netns.nameFor(SANDBOX);
    const container = await networks.attach(SANDBOX);
    expect(addressesIn(name)).toEqual([`eth0 ${container.subnet.address}/30`]);

    const machine = await networks.attachMachine(SANDBOX);
    expect(machine.subnet).toEqual(container.subnet);
    expect(machine.link).toEqual({
      tap: 'tap0',
      mac: expect.stringMatching(/^02:62:77(:[0-9a-f]{2}){3}$/),
      address: container.subnet.address,
      prefix: 30,
      gateway: container.subnet.gateway,
    });
    expect(linksIn(name)).toEqual(['br0', 'eth0@br0', 'lo', 'tap0@br0']);
    // The guest answers for the sandbox's address; the namespace must not, nor redirect it.
    expect(addressesIn(name)).toEqual([]);
    expect(execFileSync('nsenter', [`--net=${machine.netnsPath}`, 'nft', 'list', 'tables'], { encoding: 'utf8' })).toBe('');

    // A crash between two steps: the tap is gone, eth0 left its bridge. Attaching again repairs it.
    execFileSync('ip', ['-n', name, 'link', 'delete', 'tap0']);
    execFileSync('ip', ['-n', name, 'link', 'set', 'eth0', 'nomaster']);
    expect(await networks.attachMachine(SANDBOX)).toEqual(machine);
    expect(linksIn(name)).toEqual(['br0', 'eth0@br0', 'lo', 'tap0@br0']);
    expect(await networks.attachMachine(SANDBOX)).toEqual(machine);
    expect(linksIn(name)).toEqual(['br0', 'eth0@br0', 'lo', 'tap0@br0']);
  });

  describe('a guest on the tap', () => {
    const work = () => join(burrow.home, 'vm-network-machine');
    let machine: RunningMachine | undefined;
    let channel: GuestChannel | undefined;
    let netnsPath: string;
    let link: MachineLink;
    /** Runs a command as root in the guest, to completion. */
    const guest = () => ({
      run: (args: string[]) =>
        runInGuest(Promise.resolve(channel!), { args, env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], cwd: '/', uid: 0, gid: 0 }),
    });

    beforeAll(async () => {
      ({ netnsPath, link } = await networks.attachMachine(SANDBOX));
      await mkdir(work(), { recursive: true });
      const agentSocket = join(work(), 'agent.sock');
      machine = await startMachine(
        {
          accel: 'tcg',
          cpus: 1,
          memoryMb: 512,
          kernel: assets.kernel,
          initramfs: assets.initramfs,
          disk: disks.sandboxPath(SANDBOX),
          agentSocket,
          consoleLog: join(work(), 'console.log'),
          tscKhz: await hostTscKhz(),
          kernelArgs: ['panic=-1'],
          network: { netnsPath, ...link },
        },
        join(work(), 'qemu.log'),
      );
      channel = await GuestChannel.connect(agentSocket, 10_000);
      await channel.ready(120_000).catch(async (e: Error) => {
        throw new Error(`${e.message}; console: ${(await readFile(join(work(), 'console.log'), 'utf8').catch(() => '')).slice(-2000)}`);
      });
    }, 180_000);

    afterAll(async () => {
      channel?.close();
      if (machine) await stopMachine(machine);
      await rm(work(), { recursive: true, force: true });
      if (machine) expect(processesNaming(work())).toEqual([]);
    });

    it("holds the sandbox's address, routes and resolves through the gateway; QEMU runs in the sandbox's namespace", async () => {
      expect((await guest().run(['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout).toContain(` ${link.address}/${link.prefix} `);
      expect((await guest().run(['ip', 'link', 'show', 'dev', 'eth0'])).stdout).toContain(`link/ether ${link.mac} `);
      expect((await guest().run(['ip', 'route', 'show', 'default'])).stdout).toContain(`default via ${link.gateway} dev eth0`);
      expect((await guest().run(['cat', '/etc/resolv.conf'])).stdout).toBe(`nameserver ${link.gateway}\noptions edns0\n`);
      expect((await guest().run(['ip', '-o', 'link', 'show', 'dev', 'lo'])).stdout).toMatch(/[<,]UP[,>]/);
      // IPv4 only, as in a container's namespace.
      expect((await guest().run(['ip', '-6', '-o', 'addr', 'show'])).stdout).toBe('');
      // That is where its tap is.
      expect(execFileSync('readlink', [`/proc/${machine!.pid}/ns/net`], { encoding: 'utf8' })).toBe(
        execFileSync('nsenter', [`--net=${netnsPath}`, 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' }),
      );
    });

    it("serves the host at the sandbox's address from a server on 0.0.0.0", async () => {
      const started = await guest().run([
        'sh',
        '-c',
        `mkdir -p /tmp/www && echo "served by the guest" > /tmp/www/index.html && cd /tmp/www && setsid python3 -m http.server ${GUEST_PORT} --bind 0.0.0.0 </dev/null >/dev/null 2>&1 &`,
      ]);
      expect(started.code).toBe(0);
      const url = `http://${link.address}:${GUEST_PORT}/index.html`;
      const page = await until("the guest's server at the sandbox's address", () => fetch(url).then((r) => r.text(), () => ''), { timeoutMs: 60_000 });
      expect(page).toBe('served by the guest\n');

      // Figures against a same-run baseline: the same server in a runc sandbox of the daemon.
      const baseline = await burrow.client().createSandbox(sandboxName('vmnet-runc'), { runtime: 'runc' });
      try {
        const runcStarted = await baseline.exec('sh', ['-c', `mkdir -p /tmp/www && echo "served by runc" > /tmp/www/index.html && cd /tmp/www && setsid python3 -m http.server ${GUEST_PORT} --bind 0.0.0.0 </dev/null >/dev/null 2>&1 &`]);
        expect(runcStarted.exitCode).toBe(0);
        const runcAddress = (await baseline.exec('sh', ['-c', "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"])).stdout.trim();
        const runcUrl = `http://${runcAddress}:${GUEST_PORT}/index.html`;
        expect(await until('the runc sandbox\'s server', () => fetch(runcUrl).then((r) => r.text(), () => ''), { timeoutMs: 60_000 })).toBe('served by runc\n');
        const guestMs = await meanRoundTrip(url);
        const runcMs = await meanRoundTrip(runcUrl);
        console.log(`HTTP round trip from the host (python http.server): TCG guest ${guestMs.toFixed(1)} ms, runc sandbox ${runcMs.toFixed(1)} ms (${(guestMs / runcMs).toFixed(1)}x)`);
      } finally {
        await baseline.delete();
      }
    });

    it("serves the host at the sandbox's address from a server on the guest's localhost only, as a container does", async () => {
      const port = GUEST_PORT + 1;
      const started = await guest().run([
        'sh',
        '-c',
        `mkdir -p /tmp/local && echo "local only" > /tmp/local/index.html && cd /tmp/local && setsid python3 -m http.server ${port} --bind 127.0.0.1 </dev/null >/dev/null 2>&1 &`,
      ]);
      expect(started.code).toBe(0);
      const url = `http://${link.address}:${port}/index.html`;
      expect(await until('the guest\'s localhost server', () => fetch(url).then((r) => r.text(), () => ''), { timeoutMs: 60_000 })).toBe('local only\n');
      // The redirect is the host's connections' only: the guest's own eth0 address is not localhost.
      expect((await guest().run(['curl', '-sS', '--max-time', '5', `http://${link.address}:${port}/`])).code).toBe(CURL_REFUSED);
    });

    it("reaches burrow's services on the gateway and no other port of the host", async () => {
      const reached = await guest().run(['curl', '-sS', '--max-time', '20', `http://${link.gateway}:${gatewayService.port}/`]);
      expect(reached).toMatchObject({ code: 0, stdout: 'from the gateway' });
      expect(gatewayService.requests).toEqual([link.address]);
      // The host's rules, keyed on the veth and the sandbox's address, drop it: no answer at all.
      const dropped = await guest().run(['curl', '-sS', '--max-time', '3', `http://${link.gateway}:${hostOnly.port}/`]);
      expect(dropped.code).toBe(CURL_TIMED_OUT);
      expect(hostOnly.requests).toEqual([]);
    });

    it('reaches the internet through the host, and under an egress policy only the names it allows', async () => {
      const allowed = internet.names.get('allowed.vm.test')!;
      const denied = internet.names.get('denied.vm.test')!;
      // No policy: any public name resolves through burrow's resolver, and is reached.
      expect(await guest().run(['curl', '-sS', '--max-time', '20', 'http://denied.vm.test/'])).toMatchObject({ code: 0, stdout: `hello from ${denied}\n` });

      await networks.setPolicy(SANDBOX, JSON.stringify({ rules: [{ domain: 'allowed.vm.test', action: 'allow' }] }));
      policies.forget(SANDBOX);
      expect(await guest().run(['curl', '-sS', '--max-time', '20', 'http://allowed.vm.test/'])).toMatchObject({ code: 0, stdout: `hello from ${allowed}\n` });
      expect(await firewall.learned(networks.subnetOf(SANDBOX)!.slot)).toEqual([allowed]);
      // A denied name does not resolve, and its address, asked for directly, is dropped.
      expect((await guest().run(['curl', '-sS', '--max-time', '20', 'http://denied.vm.test/'])).code).toBe(CURL_NO_HOST);
      expect((await guest().run(['curl', '-sS', '--max-time', '3', `http://${denied}/`])).code).toBe(CURL_TIMED_OUT);
    });
  });

  it("starts a sandbox's microVM on its network through the runtime interface, on the tap an earlier boot left", async () => {
    const { netnsPath, link } = await networks.attachMachine(SANDBOX);
    const root = join(burrow.home, 'vm-network-runtime');
    const bundle = join(burrow.home, 'vm-network-bundle');
    await mkdir(bundle, { recursive: true });
    // The bundle core writes for a vm sandbox: its disk as the root, its namespace, its link.
    await writeFile(
      join(bundle, 'config.json'),
      JSON.stringify({
        hostname: SANDBOX,
        root: { path: disks.sandboxPath(SANDBOX) },
        annotations: { [MACHINE_NETWORK_ANNOTATION]: JSON.stringify(link) },
        linux: {
          cgroupsPath: `/burrow-${burrow.config.instanceTag}-${SANDBOX}`,
          namespaces: [{ type: 'network', path: netnsPath }],
          resources: { memory: { limit: 512 * MiB } },
        },
      }),
    );
    const host = { accel: 'tcg' as const, assets, tscKhz: await hostTscKhz() };
    const runtime = new VmRuntime({ root, host: async () => host });
    try {
      await runtime.start(SANDBOX, bundle);
      // As core runs every command: through burrow-agent, PID 1 of the disk. (The policy set
      // above still allows the name.)
      const client = ['/usr/local/sbin/burrow-agent', 'exec', 'vmnettoken', '0', '0', '/root', '0', '0', '0', '--'];
      const shown = await runtime.run(SANDBOX, { args: [...client, '/bin/sh', '-c', 'ip -4 -o addr show dev eth0; curl -sS --max-time 20 http://allowed.vm.test/'], env: [], cwd: '/', uid: 0, gid: 0 });
      expect(shown).toContain(` ${link.address}/${link.prefix} `);
      expect(shown).toContain(`hello from ${internet.names.get('allowed.vm.test')}\n`);
    } finally {
      await runtime.remove(SANDBOX);
      runtime.close();
      await rm(bundle, { recursive: true, force: true });
      await rm(root, { recursive: true, force: true });
    }
    expect(processesNaming(root)).toEqual([]);
  });

  it('detach removes the namespace with its bridge and tap, the veth, and the rules', async () => {
    const subnet = networks.subnetOf(SANDBOX)!;
    await networks.detach(SANDBOX);
    expect(await netns.list()).toEqual([]);
    expect(await veths.list()).toEqual([]);
    const table = execFileSync('nft', ['list', 'table', 'inet', firewall.table], { encoding: 'utf8' });
    expect(table).not.toContain(`sb_${subnet.slot}`);
    expect(table).not.toContain(subnet.address);
  });
});
