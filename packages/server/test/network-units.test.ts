// The network layer's pure parts: the address pool, the nftables script, the DNS wire helpers
// and the policy matcher. The kernel side is covered by test/integration/network.test.ts.
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/database.js';
import { NetworkStore } from '../src/db/networks.js';
import { AddressPool } from '../src/network/address-pool.js';
import { addressReply, answerAddresses, emptyReply, parseQuery, RCODE_REFUSED } from '../src/network/dns-message.js';
import { networkPolicySchema } from '@burrow/protocol';
import { PolicyMatcher } from '../src/network/dns-policy.js';
import { parseUpstream } from '../src/network/dns-resolver.js';
import { learnScript, policyChangeScript, rulesetScript } from '../src/network/firewall-rules.js';
import { parseListenerOwners } from '../src/network/port-watcher.js';

describe('the address pool', () => {
  it('cuts /30s: gateway first, sandbox second, and maps a sandbox address back to its slot', () => {
    const pool = new AddressPool('10.222.0.0/16');
    expect(pool.size).toBe(16384);
    expect(pool.subnet(0)).toEqual({ slot: 0, gateway: '10.222.0.1', address: '10.222.0.2', prefix: 30 });
    expect(pool.subnet(300)).toMatchObject({ gateway: '10.222.4.177', address: '10.222.4.178' });
    expect(pool.slotOfAddress('10.222.4.178')).toBe(300);
    expect(pool.slotOfAddress('10.222.4.177')).toBeUndefined();
    expect(pool.slotOfAddress('10.223.0.2')).toBeUndefined();
    expect(() => pool.subnet(16384)).toThrow(/outside the pool/);
  });

  it('finds the slots an address elsewhere on the host overlaps, so that allocation skips them', () => {
    const pool = new AddressPool('10.222.0.0/16');
    expect(pool.slotsOverlapping('10.222.0.1', 30)).toEqual([0]);
    expect(pool.slotsOverlapping('10.222.1.7', 24)).toEqual(Array.from({ length: 64 }, (_, i) => 64 + i));
    expect(pool.slotsOverlapping('192.168.1.1', 24)).toEqual([]);
    const store = new NetworkStore(openDatabase(':memory:'));
    const db = (store as unknown as { db: { exec(sql: string): void } }).db;
    db.exec(`INSERT INTO sandboxes (id, name, status, runtime, image, cpus, ram_mb, storage_gb, environment, labels, url_settings, created_at, updated_at)
             VALUES ('a','a','running','runc','i',1,1,1,'{}','[]','{}','t','t'), ('b','b','running','runc','i',1,1,1,'{}','[]','{}','t','t')`);
    expect(store.allocate('a', pool.size, (slot) => slot !== 0).slot).toBe(1);
    expect(store.allocate('b', pool.size).slot).toBe(0);
    expect(store.allocate('a', pool.size).slot).toBe(1);
  });

  it('refuses pools that are not IPv4 networks', () => {
    for (const bad of ['10.222.0.1/16', '10.222.0.0', 'fd00::/64', '10.0.0.0/31']) expect(() => new AddressPool(bad)).toThrow();
  });
});

describe('the nftables script', () => {
  const input = {
    table: 'burrow-abc123',
    ifacePrefix: 'bwabc123',
    pool: '10.222.0.0/16',
    services: [{ name: 'dns', protocols: ['udp', 'tcp'] as Array<'udp' | 'tcp'>, port: 5353, redirectFrom: [53] }],
    sandboxes: [{ slot: 3, iface: 'bwabc1233', address: '10.222.0.14', policed: true, generation: 2 }],
    staleSlots: [7],
  };
  const script = rulesetScript(input);

  it('lives in its own table and never flushes the ruleset', () => {
    expect(script).not.toMatch(/flush ruleset/);
    for (const line of script.trim().split('\n')) expect(line).toMatch(/inet burrow-abc123( |$)/);
  });

  it('keeps learned addresses (sets are added, never flushed) and removes stale sandboxes', () => {
    expect(script).toContain('add set inet burrow-abc123 allow_3 { type ipv4_addr; flags timeout; }');
    expect(script).not.toContain('flush set inet burrow-abc123 allow_3');
    expect(script).toContain('delete chain inet burrow-abc123 sb_7');
    expect(script).toContain('delete set inet burrow-abc123 allow_7');
  });

  it('drops private ranges and the pool, ties each source address to its veth, and redirects DNS', () => {
    expect(script).toMatch(/add element inet burrow-abc123 blocked \{ .*10\.0\.0\.0\/8.*169\.254\.0\.0\/16.*10\.222\.0\.0\/16 \}/);
    expect(script).toContain('add element inet burrow-abc123 sandboxes { "bwabc1233" . 10.222.0.14 : jump sb_3 }');
    expect(script).toContain('th dport 53 redirect to :5353');
    expect(script).toContain('add rule inet burrow-abc123 sb_3 ip daddr != @allow_3 drop');
  });

  it('swaps a policy live and renews learned addresses with their TTL', () => {
    const unpoliced = policyChangeScript('burrow-abc123', { ...input.sandboxes[0]!, policed: false, generation: 3 });
    expect(unpoliced).toContain('flush set inet burrow-abc123 allow_3');
    expect(unpoliced).not.toContain('@allow_3');
    expect(unpoliced).toContain('ct mark set 3 accept');
    const learn = learnScript('burrow-abc123', 3, [{ ip: '1.2.3.4', ttlSeconds: 60 }]);
    expect(learn.trim().split('\n')).toEqual([
      'add element inet burrow-abc123 allow_3 { 1.2.3.4 timeout 60s }',
      'delete element inet burrow-abc123 allow_3 { 1.2.3.4 }',
      'add element inet burrow-abc123 allow_3 { 1.2.3.4 timeout 60s }',
    ]);
  });
});

describe('DNS messages', () => {
  const query = Buffer.concat([
    Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]),
    Buffer.from('\x03api\x06GitHub\x03com\x00', 'latin1'),
    Buffer.from([0, 1, 0, 1]),
  ]);

  it('reads the question, lower-cased', () => {
    expect(parseQuery(query).question).toEqual({ name: 'api.github.com', type: 1, class: 1 });
  });

  it('builds REFUSED and A answers whose addresses read back with their TTL', () => {
    const parsed = parseQuery(query);
    const refused = emptyReply(query, parsed, RCODE_REFUSED);
    expect(refused.readUInt16BE(0)).toBe(0x1234);
    expect(refused.readUInt16BE(2) & 0x800f).toBe(0x8005);
    const answer = addressReply(query, parsed, ['140.82.112.5', '140.82.112.6'], 300);
    expect(answerAddresses(answer)).toEqual([
      { name: 'api.github.com', ip: '140.82.112.5', ttl: 300 },
      { name: 'api.github.com', ip: '140.82.112.6', ttl: 300 },
    ]);
  });

  it('rejects truncated and looping messages', () => {
    expect(() => parseQuery(query.subarray(0, 20))).toThrow();
    const loop = Buffer.concat([query.subarray(0, 12), Buffer.from([0xc0, 12]), Buffer.from([0, 1, 0, 1])]);
    expect(() => parseQuery(loop)).toThrow();
  });

  it('takes the upstream from BURROW_DNS_UPSTREAM or the host resolv.conf', () => {
    expect(parseUpstream('127.0.0.1:5300')).toEqual({ host: '127.0.0.1', port: 5300 });
    expect(parseUpstream('9.9.9.9')).toEqual({ host: '9.9.9.9', port: 53 });
    expect(() => parseUpstream('a:b:c')).toThrow();
  });
});

describe('the egress policy', () => {
  const policy = (rules: unknown) => new PolicyMatcher(networkPolicySchema.parse({ rules }));

  it('decides by the most specific rule, deny winning ties, unmatched names denied', () => {
    const m = policy([
      { domain: '*.github.com', action: 'allow' },
      { domain: 'gist.github.com', action: 'deny' },
      { domain: 'example.org', action: 'allow' },
    ]);
    expect(m.allows('api.github.com')).toBe(true);
    expect(m.allows('API.GitHub.com.')).toBe(true);
    expect(m.allows('github.com')).toBe(false);
    expect(m.allows('gist.github.com')).toBe(false);
    expect(m.allows('example.org')).toBe(true);
    expect(m.allows('www.example.org')).toBe(false);
    expect(m.allows('evil.com')).toBe(false);
    expect(policy([{ domain: '*', action: 'allow' }, { domain: 'evil.com', action: 'deny' }]).allows('evil.com')).toBe(false);
    expect(policy([{ domain: '*', action: 'allow' }, { domain: '*', action: 'deny' }]).allows('a.b')).toBe(false);
  });

  it('includes the defaults preset', () => {
    const m = policy([{ include: 'defaults' }]);
    expect(m.allows('registry.npmjs.org')).toBe(true);
    expect(m.allows('objects.githubusercontent.com')).toBe(true);
    expect(m.allows('example.com')).toBe(false);
  });

  it('refuses malformed rules', () => {
    for (const rules of [[{ domain: 'a..b', action: 'allow' }], [{ domain: 'x.org' }], [{ include: 'all' }], [{ domain: 'x.org', action: 'maybe' }], [{ domain: 'x', action: 'allow', extra: 1 }]]) {
      expect(networkPolicySchema.safeParse({ rules }).success).toBe(false);
    }
  });
});

describe('who listens, as a sandbox tells it', () => {
  it('pairs the LISTEN sockets of its TCP tables with the lowest pid holding each, and ignores the rest', () => {
    const output = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   9: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0       10 2 0000000000000000 0 0 0 0 -1',
      '  10: 0100007F:2237 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0       12 2 0000000000000000 0 0 0 0 -1',
      '  11: 0100007F:2237 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0       13 2 0000000000000000 0 0 0 0 -1',
      '   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 20 1',
      '',
      '/proc/4/fd socket:[10]',
      '/proc/9/fd socket:[12]',
      '/proc/7/fd socket:[12]',
      '/proc/7/fd socket:[13]',
      '/proc/x/fd socket:[20]',
      'forged: 00000000:0016 00000000:0000 0A',
    ].join('\n');
    expect(parseListenerOwners(output)).toEqual([
      { type: 'tcp', port: 8080, address: '0.0.0.0', pid: 4 },
      { type: 'tcp', port: 8759, address: '127.0.0.1', pid: 7 },
      { type: 'tcp', port: 80, address: '::', pid: 0 },
    ]);
  });
});
