// burrow's DNS resolver: every sandbox's /etc/resolv.conf points at its gateway, where port 53
// is redirected here (UDP and TCP). Queries from a sandbox under a policy are answered REFUSED
// when the name is denied; allowed ones go upstream, and the A records of the answer are taught
// to the sandbox's firewall set (for their TTL) before the answer is sent back, so the connect
// that follows cannot race the rule. Queries from anything that is not a sandbox are refused.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import {
  answerAddresses,
  emptyReply,
  parseQuery,
  RCODE_REFUSED,
  RCODE_SERVFAIL,
  type AddressRecord,
} from './dns-message.js';

/** What the resolver needs to know about the sandbox that asked. */
export interface DnsClient {
  /** null: no policy, every name resolves and nothing needs learning. */
  allows(name: string): boolean | null;
  learn(records: AddressRecord[]): Promise<void>;
}

export interface Upstream {
  host: string;
  port: number;
}

const UPSTREAM_TIMEOUT_MS = 4_000;
const MAX_TCP_MESSAGE = 65_535;

export class DnsResolver {
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;

  constructor(
    private readonly upstream: Upstream,
    private readonly clientAt: (address: string) => DnsClient | undefined,
    private readonly log: (line: string) => void = () => {},
    /** Called for each query a sandbox's egress policy refuses (counted as a refusal). */
    private readonly refused: (name: string) => void = () => {},
  ) {}

  /** Listens on UDP and TCP `port` (0: any free port, the same for both) on every address. */
  async start(port = 0): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const udp = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(port, '0.0.0.0', () => resolve());
      });
      const bound = udp.address().port;
      const tcp = createServer((socket) => this.serveTcp(socket));
      const ok = await new Promise<boolean>((resolve) => {
        tcp.once('error', () => resolve(false));
        tcp.listen(bound, '0.0.0.0', () => resolve(true));
      });
      if (!ok) {
        udp.close();
        if (port !== 0 || attempt > 20) throw new Error(`the DNS resolver could not listen on TCP port ${bound}`);
        continue;
      }
      udp.on('message', (msg, rinfo) => {
        void this.answer(msg, rinfo.address, 'udp').then((reply) => {
          if (reply) udp.send(reply, rinfo.port, rinfo.address);
        });
      });
      udp.on('error', (e) => this.log(`dns: ${e.message}`));
      this.udp = udp;
      this.tcp = tcp;
      return bound;
    }
  }

  async close(): Promise<void> {
    this.udp?.close();
    await new Promise<void>((resolve) => (this.tcp ? this.tcp.close(() => resolve()) : resolve()));
  }

  /** The reply to one query, or undefined to drop it. */
  async answer(query: Buffer, from: string, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    let parsed;
    try {
      parsed = parseQuery(query);
    } catch {
      return undefined;
    }
    const client = this.clientAt(from.replace(/^::ffff:/, ''));
    if (!client) return emptyReply(query, parsed, RCODE_REFUSED);
    const allowed = client.allows(parsed.question.name);
    if (allowed === false) {
      this.refused(parsed.question.name);
      return emptyReply(query, parsed, RCODE_REFUSED);
    }
    let reply: Buffer;
    try {
      reply = transport === 'udp' ? await this.askUdp(query) : await this.askTcp(query);
    } catch (e) {
      this.log(`dns: upstream ${this.upstream.host}:${this.upstream.port} failed for ${parsed.question.name}: ${(e as Error).message}`);
      return emptyReply(query, parsed, RCODE_SERVFAIL);
    }
    if (allowed === true) {
      try {
        await client.learn(answerAddresses(reply));
      } catch (e) {
        this.log(`dns: could not allow the addresses of ${parsed.question.name}: ${(e as Error).message}`);
        return emptyReply(query, parsed, RCODE_SERVFAIL);
      }
    }
    return reply;
  }

  private askUdp(query: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = createSocket('udp4');
      const timer = setTimeout(() => finish(new Error('timed out')), UPSTREAM_TIMEOUT_MS);
      const finish = (err: Error | null, reply?: Buffer) => {
        clearTimeout(timer);
        socket.close();
        if (err) reject(err);
        else resolve(reply!);
      };
      socket.on('error', (e) => finish(e));
      socket.on('message', (msg) => {
        if (msg.length >= 2 && msg.readUInt16BE(0) === query.readUInt16BE(0)) finish(null, msg);
      });
      socket.send(query, this.upstream.port, this.upstream.host);
    });
  }

  private askTcp(query: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.upstream.port, this.upstream.host);
      socket.setTimeout(UPSTREAM_TIMEOUT_MS, () => socket.destroy(new Error('timed out')));
      readFramed(socket, (msg) => {
        socket.end();
        resolve(msg);
      });
      socket.on('error', reject);
      socket.on('close', () => reject(new Error('closed without an answer')));
      socket.write(frame(query));
    });
  }

  private serveTcp(socket: Socket): void {
    socket.setTimeout(30_000, () => socket.destroy());
    socket.on('error', () => {});
    const from = socket.remoteAddress ?? '';
    readFramed(socket, (msg) => {
      void this.answer(msg, from, 'tcp').then((reply) => {
        if (reply) socket.write(frame(reply));
        else socket.destroy();
      });
    });
  }
}

function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

/** DNS over TCP: each message is preceded by its 16-bit length. */
function readFramed(socket: Socket, onMessage: (msg: Buffer) => void): void {
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    if (pending.length > MAX_TCP_MESSAGE + 2) return void socket.destroy();
    while (pending.length >= 2) {
      const len = pending.readUInt16BE(0);
      if (pending.length < 2 + len) break;
      onMessage(pending.subarray(2, 2 + len));
      pending = pending.subarray(2 + len);
    }
  });
}

/** `host[:port]`, or the first nameserver of the host's /etc/resolv.conf. */
export function parseUpstream(value: string | undefined, resolvConf = '/etc/resolv.conf'): Upstream {
  if (!value) {
    const text = (() => {
      try {
        return readFileSync(resolvConf, 'utf8');
      } catch {
        return '';
      }
    })();
    const m = /^\s*nameserver\s+(\S+)/m.exec(text);
    return { host: m?.[1] ?? '127.0.0.1', port: 53 };
  }
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d{1,5}))?$/.exec(value.trim());
  if (!m) throw new Error(`BURROW_DNS_UPSTREAM must be HOST or HOST:PORT, got '${value}'`);
  return { host: m[1] ?? m[2]!, port: m[3] ? Number(m[3]) : 53 };
}
