// A small fake internet for network tests: a namespace with "public" addresses (198.18.x.0/24,
// one /24 per test run) routed from the host, an HTTP server answering on all of them, and an
// upstream DNS server (in the test process, UDP and TCP) that names them. Everything it makes carries the
// run id and is removed by `destroy`, even after a failure.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { addressReply, emptyReply, parseQuery, RCODE_NXDOMAIN } from '@burrow/server/testing';
import { RUN_ID } from './instance.js';

const SERVER = `
const http = require('node:http');
http.createServer((req, res) => res.end('hello from ' + req.socket.localAddress + '\\n')).listen(80, '0.0.0.0');
`;

// An HTTPS echo server on 443: it answers with what it received as JSON, except that the
// Authorization header is shown only as its SHA-256 (so that a test can check an injected
// credential without the credential ever reaching the client). GET /__seen lists requests.
const HTTPS_SERVER = `
const https = require('node:https'), tls = require('node:tls'), crypto = require('node:crypto');
const certs = JSON.parse(process.env.CERTS);
const seen = [];
const ctx = (name) => tls.createSecureContext(certs[name] || Object.values(certs)[0]);
https.createServer({ SNICallback: (name, cb) => cb(null, ctx(name)), ...Object.values(certs)[0] }, (req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    if (req.url === '/__seen') return res.end(JSON.stringify(seen));
    const headers = { ...req.headers };
    if (headers.authorization) headers.authorization = 'sha256:' + crypto.createHash('sha256').update(headers.authorization).digest('hex');
    seen.push({ host: req.headers.host, method: req.method, url: req.url });
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ server: req.socket.localAddress, method: req.method, url: req.url, headers, body }));
  });
}).listen(443, '0.0.0.0');
`;

export class FakeInternet {
  readonly netns: string;
  readonly link: string;
  readonly subnet: string;
  private server: ChildProcess | undefined;
  private httpsServer: ChildProcess | undefined;
  private dns: Socket | undefined;
  private dnsTcp: Server | undefined;
  dnsPort = 0;
  /** name -> address; what the fake upstream answers. */
  readonly names = new Map<string, string>();

  constructor() {
    const n = createHash('sha256').update(RUN_ID).digest().readUInt8(0);
    const short = createHash('sha256').update(RUN_ID).digest('hex').slice(0, 8);
    this.netns = `bwinet-${RUN_ID}`;
    this.link = `bwi${short}`;
    this.subnet = `198.18.${n}`;
  }

  /** The address of host number `i` (10 and up are servers). */
  address(i: number): string {
    return `${this.subnet}.${i}`;
  }

  /**
   * `https`: PEM key and certificate per name, for the HTTPS server on port 443: the echo server
   * above, or `server.script` (a file run with node, given CERTS and `server.env`).
   */
  async start(
    servers: Record<string, number>,
    https?: Record<string, { key: string; cert: string }>,
    server?: { script: string; env: Record<string, string> },
  ): Promise<void> {
    const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    ip('netns', 'add', this.netns);
    ip('link', 'add', this.link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.netns);
    ip('addr', 'add', `${this.address(1)}/24`, 'dev', this.link);
    ip('link', 'set', this.link, 'up');
    ip('-n', this.netns, 'link', 'set', 'lo', 'up');
    ip('-n', this.netns, 'link', 'set', 'eth0', 'up');
    for (const [name, i] of Object.entries(servers)) {
      ip('-n', this.netns, 'addr', 'add', `${this.address(i)}/24`, 'dev', 'eth0');
      this.names.set(name, this.address(i));
    }
    ip('-n', this.netns, 'route', 'add', 'default', 'via', this.address(1));
    this.server = spawn('nsenter', [`--net=/var/run/netns/${this.netns}`, process.execPath, '-e', SERVER], { stdio: 'ignore' });
    if (https) {
      const program = server ? [server.script] : ['-e', HTTPS_SERVER];
      this.httpsServer = spawn('nsenter', [`--net=/var/run/netns/${this.netns}`, process.execPath, ...program], {
        stdio: 'ignore',
        env: { ...process.env, ...server?.env, CERTS: JSON.stringify(https) },
      });
    }
    await this.startDns();
    await this.waitForServer();
  }

  /** UDP on a free port, then TCP on the same one; another process may hold that TCP port, so retry. */
  private async startDns(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.listenDns();
        return;
      } catch (e) {
        this.dns?.close();
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt === 5) throw e;
      }
    }
  }

  private async listenDns(): Promise<void> {
    const dns = createSocket('udp4');
    dns.on('message', (msg, rinfo) => {
      const reply = this.reply(msg);
      if (reply) dns.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => dns.bind(0, '127.0.0.1', () => resolve()));
    this.dns = dns;
    this.dnsPort = dns.address().port;
    // The same answers over TCP (length-prefixed messages), on the same port.
    const tcp = createServer((socket) => {
      let pending = Buffer.alloc(0);
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
          const reply = this.reply(pending.subarray(2, 2 + pending.readUInt16BE(0)));
          pending = pending.subarray(2 + pending.readUInt16BE(0));
          if (reply) socket.write(Buffer.concat([Buffer.from([reply.length >> 8, reply.length & 255]), reply]));
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(this.dnsPort, '127.0.0.1', () => resolve());
    });
    this.dnsTcp = tcp;
  }

  private reply(msg: Buffer): Buffer | undefined {
    try {
      const q = parseQuery(msg);
      const ip = this.names.get(q.question.name);
      return ip && q.question.type === 1 ? addressReply(msg, q, [ip], 60) : ip ? emptyReply(msg, q, 0) : emptyReply(msg, q, RCODE_NXDOMAIN);
    } catch {
      return undefined; // not a query
    }
  }

  private async waitForServer(): Promise<void> {
    const first = [...this.names.values()][0]!;
    for (let i = 0; i < 100; i++) {
      try {
        const r = await fetch(`http://${first}/`, { signal: AbortSignal.timeout(1000) });
        if (r.ok) return;
      } catch {
        // not yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the fake internet server did not start');
  }

  async destroy(): Promise<void> {
    this.server?.kill('SIGKILL');
    this.httpsServer?.kill('SIGKILL');
    this.dns?.close();
    this.dnsTcp?.close();
    for (const args of [['link', 'delete', this.link], ['netns', 'delete', this.netns]]) {
      try {
        execFileSync('ip', args, { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  }
}
