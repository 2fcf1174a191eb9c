// Probes run inside a sandbox (python3 is in the dev image): a TCP connect that reports how it
// ended, and a raw DNS query to the sandbox's resolver that reports the response code.
import type { Sandbox } from '@burrow/sdk';

const PROBE = String.raw`
import socket, struct, sys
def connect(host, port):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((host, int(port))); print('open')
    except socket.timeout: print('timeout')
    except ConnectionRefusedError: print('refused')
    except OSError as e: print('error', e.errno)
def dns(name, transport='udp'):
    ns = [l.split()[1] for l in open('/etc/resolv.conf') if l.startswith('nameserver')][0]
    q = struct.pack('>HHHHHH', 0x4242, 0x0100, 1, 0, 0, 0) + b''.join(bytes([len(p)]) + p.encode() for p in name.split('.')) + b'\0' + struct.pack('>HH', 1, 1)
    if transport == 'tcp':
        s = socket.create_connection((ns, 53), timeout=5); s.sendall(struct.pack('>H', len(q)) + q)
        r = b''
        while len(r) < 2 or len(r) < 2 + struct.unpack('>H', r[:2])[0]: r += s.recv(4096)
        r = r[2:]
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5); s.sendto(q, (ns, 53)); r = s.recv(4096)
    rcode = r[3] & 15; an = struct.unpack('>H', r[6:8])[0]
    ips = []
    if an:
        i = len(q)
        for _ in range(an):
            i += 2 if r[i] & 0xc0 == 0xc0 else r.index(0, i) + 1 - i
            t, _, _, ln = struct.unpack('>HHIH', r[i:i+10]); i += 10
            if t == 1: ips.append('.'.join(map(str, r[i:i+4])))
            i += ln
    print(rcode, *ips)
{'connect': connect, 'dns': dns}[sys.argv[1]](*sys.argv[2:])
`;

/** 'open', 'refused', 'timeout' (dropped) or 'error <errno>'. */
export async function tcpConnect(sandbox: Sandbox, host: string, port: number): Promise<string> {
  const r = await sandbox.exec('python3', ['-c', PROBE, 'connect', host, String(port)]);
  if (r.exitCode !== 0) throw new Error(`probe failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** The resolver's response code (0 NOERROR, 3 NXDOMAIN, 5 REFUSED) and A records. */
export async function dnsQuery(sandbox: Sandbox, name: string, transport: 'udp' | 'tcp' = 'udp'): Promise<{ rcode: number; ips: string[] }> {
  const r = await sandbox.exec('python3', ['-c', PROBE, 'dns', name, transport]);
  if (r.exitCode !== 0) throw new Error(`probe failed: ${r.stderr}`);
  const [rcode, ...ips] = r.stdout.trim().split(' ');
  return { rcode: Number(rcode), ips };
}
