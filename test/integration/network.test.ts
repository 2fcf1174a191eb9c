// Network isolation and the egress policy against a fake internet: real namespaces, veth pairs,
// nftables and gVisor sandboxes. The fake internet is a namespace with "public" addresses and an
// upstream DNS server that names them; burrow's resolver is pointed at it.
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BurrowClient } from '@burrow/sdk';
import { FakeInternet } from '../support/fake-internet.js';
import { firewallRules, hostState } from '../support/host-state.js';
import { BurrowInstance, sandboxName } from '../support/instance.js';
import { dnsQuery, tcpConnect } from '../support/net-probe.js';

let burrow: BurrowInstance;
let client: BurrowClient;
let internet: FakeInternet;
let hostListener: Server;
let hostPort = 0;
const a = sandboxName('net-a');
const b = sandboxName('net-b');

beforeAll(async () => {
  internet = new FakeInternet();
  await internet.start({ 'allowed.test': 10, 'other.test': 11, 'denied.test': 12 });
  burrow = await BurrowInstance.create({ BURROW_DNS_UPSTREAM: `127.0.0.1:${internet.dnsPort}` });
  await burrow.start();
  client = burrow.client();
  // Something listening on every host address, to prove sandboxes cannot reach it.
  hostListener = createServer((s) => s.end('host\n'));
  await new Promise<void>((r) => hostListener.listen(0, '0.0.0.0', () => r()));
  hostPort = (hostListener.address() as { port: number }).port;
  await Promise.all([client.createSandbox(a), client.createSandbox(b)]);
});

afterAll(async () => {
  hostListener?.close();
  await burrow?.destroy();
  await internet?.destroy();
});

function hostAddresses(): string[] {
  const out = JSON.parse(execFileSync('ip', ['-j', '-4', 'addr'], { encoding: 'utf8' })) as Array<{ ifname: string; addr_info: Array<{ local: string }> }>;
  return out.filter((i) => i.ifname !== 'lo' && !i.ifname.startsWith('bw')).flatMap((i) => i.addr_info.map((x) => x.local));
}

function gatewayOf(sandboxAddress: string): string {
  const parts = sandboxAddress.split('.').map(Number);
  return `${parts[0]}.${parts[1]}.${parts[2]}.${parts[3]! - 1}`;
}

async function addressOf(name: string): Promise<string> {
  const r = await client.sandbox(name).exec('sh', ['-c', "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"]);
  return r.stdout.trim();
}

describe('a sandbox with no policy', () => {
  it('resolves names through burrow and reaches the public internet', async () => {
    const sandbox = client.sandbox(a);
    expect((await sandbox.exec('cat', ['/etc/resolv.conf'])).stdout).toMatch(/^nameserver 10\./);
    expect(await dnsQuery(sandbox, 'allowed.test')).toEqual({ rcode: 0, ips: [internet.address(10)] });
    const r = await sandbox.exec('curl', ['-sS', '-m', '10', 'http://other.test/']);
    expect(r.stdout).toBe(`hello from ${internet.address(11)}\n`);
  });

  it('cannot reach the host, the metadata address, private ranges or another sandbox', async () => {
    const sandbox = client.sandbox(a);
    const own = await addressOf(a);
    const neighbour = await addressOf(b);
    expect(own).not.toBe(neighbour);
    // The neighbour serves on 8080, and the host reaches it: only sandbox-to-sandbox is cut.
    await client.sandbox(b).exec('sh', ['-c', 'setsid python3 -m http.server 8080 >/dev/null 2>&1 < /dev/null &']);
    await expect.poll(() => fetch(`http://${neighbour}:8080/`).then((r) => r.status, () => 0), { timeout: 20_000 }).toBe(200);
    const targets: Array<[string, number]> = [
      ['127.0.0.1', Number(new URL(burrow.url).port)],
      [gatewayOf(own), hostPort],
      [gatewayOf(own), Number(new URL(burrow.url).port)],
      [gatewayOf(own), 22],
      ...hostAddresses().map((h): [string, number] => [h, hostPort]),
      ['169.254.169.254', 80],
      ['10.0.0.1', 80],
      ['192.168.1.1', 80],
      ['172.16.0.1', 80],
      ['100.64.0.1', 80],
      [neighbour, 8080],
      [gatewayOf(neighbour), hostPort],
    ];
    const results = await Promise.all(targets.map(async ([h, p]) => `${h}:${p} ${await tcpConnect(sandbox, h, p)}`));
    // Dropped, not refused: nothing on the host even answers. (127.0.0.1 is the sandbox's own.)
    expect(results).toEqual(targets.map(([h, p]) => `${h}:${p} ${h === '127.0.0.1' ? 'refused' : 'timeout'}`));
  });

  it('has no IPv6 inside', async () => {
    const r = await client.sandbox(a).exec('sh', ['-c', 'cat /proc/net/if_inet6 2>/dev/null | wc -l']);
    expect(r.stdout.trim()).toBe('0');
  });
});

describe('an egress policy', () => {
  const policy = { rules: [{ domain: 'allowed.test', action: 'allow' as const }, { domain: '*.example.org', action: 'allow' as const }] };

  it('is stored, answered back, and readable inside the sandbox', async () => {
    await client.sandbox(a).setNetworkPolicy(policy);
    expect(await client.sandbox(a).getNetworkPolicy()).toEqual(policy);
    const inside = await client.sandbox(a).exec('cat', ['/.burrow/policy/network.json']);
    expect(JSON.parse(inside.stdout)).toEqual(policy);
  });

  it('lets allowed names resolve and connect', async () => {
    const sandbox = client.sandbox(a);
    expect(await dnsQuery(sandbox, 'allowed.test')).toEqual({ rcode: 0, ips: [internet.address(10)] });
    expect(await dnsQuery(sandbox, 'allowed.test', 'tcp')).toEqual({ rcode: 0, ips: [internet.address(10)] });
    expect((await sandbox.exec('curl', ['-sS', '-m', '10', 'http://allowed.test/'])).stdout).toBe(`hello from ${internet.address(10)}\n`);
  });

  it('answers REFUSED for denied names', async () => {
    expect(await dnsQuery(client.sandbox(a), 'denied.test')).toEqual({ rcode: 5, ips: [] });
    expect(await dnsQuery(client.sandbox(a), 'other.test')).toEqual({ rcode: 5, ips: [] });
    expect(await dnsQuery(client.sandbox(a), 'denied.test', 'tcp')).toEqual({ rcode: 5, ips: [] });
  });

  it('drops connections to addresses no allowed name gave, while the other sandbox is unaffected', async () => {
    expect(await tcpConnect(client.sandbox(a), internet.address(11), 80)).toBe('timeout');
    expect(await tcpConnect(client.sandbox(b), internet.address(11), 80)).toBe('open');
  });

  it('survives a daemon restart: learned addresses and rules are rebuilt without a new lookup', async () => {
    await burrow.stop();
    await burrow.start();
    client = burrow.client();
    expect(await tcpConnect(client.sandbox(a), internet.address(10), 80)).toBe('open');
    expect(await tcpConnect(client.sandbox(a), internet.address(11), 80)).toBe('timeout');
  });

  it('rejects a bad policy with 400 and keeps the old one', async () => {
    for (const bad of [{ rules: [{ domain: 'a..b', action: 'allow' }] }, { rules: [{ include: 'everything' }] }, { rules: [{ domain: 'x.org' }] }, { nope: 1 }]) {
      const r = await fetch(`${burrow.url}/v1/sprites/${a}/policy/network`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${burrow.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(bad),
      });
      expect(r.status).toBe(400);
      expect(await r.json()).toMatchObject({ error: 'invalid_policy', message: expect.stringMatching(/^Invalid policy/) });
    }
    expect(await client.sandbox(a).getNetworkPolicy()).toEqual(policy);
  });

  it('applies changes live: no rules opens the internet again', async () => {
    await client.sandbox(a).setNetworkPolicy({ rules: [] });
    expect(await dnsQuery(client.sandbox(a), 'other.test')).toMatchObject({ rcode: 0 });
    expect(await tcpConnect(client.sandbox(a), internet.address(12), 80)).toBe('open');
  });
});

describe('addresses', () => {
  // Fifty real sandboxes made and destroyed: the timeout is a budget for a busy 2-core machine.
  it('gives 50 sandboxes distinct subnets, and destroy leaves no namespace, link, rule or address', async () => {
    const names = Array.from({ length: 50 }, (_, i) => sandboxName(`many-${i}`));
    for (let i = 0; i < names.length; i += 10) {
      await Promise.all(names.slice(i, i + 10).map((n) => client.createSandbox(n, { runtime: 'runc' })));
    }
    const links = hostState(burrow.config).links;
    expect(links).toHaveLength(52);
    const gateways = JSON.parse(execFileSync('ip', ['-j', '-4', 'addr'], { encoding: 'utf8' }))
      .filter((l: { ifname: string }) => links.includes(l.ifname))
      .map((l: { addr_info: Array<{ local: string; prefixlen: number }> }) => `${l.addr_info[0]!.local}/${l.addr_info[0]!.prefixlen}`);
    expect(new Set(gateways).size).toBe(52);
    expect(gateways.every((g: string) => g.endsWith('/30'))).toBe(true);
    expect(firewallRules(burrow.config).filter((r) => r.startsWith('chain sb_'))).toHaveLength(52);

    for (let i = 0; i < names.length; i += 10) {
      await Promise.all(names.slice(i, i + 10).map((n) => client.deleteSandbox(n)));
    }
    await Promise.all([a, b].map((n) => client.deleteSandbox(n)));
    const after = hostState(burrow.config);
    expect({ netns: after.netns, links: after.links, rules: after.rules, addresses: after.addresses, rows: after.rows }).toEqual({
      netns: [], links: [], rules: [], addresses: [], rows: [],
    });
  }, 300_000);
});
