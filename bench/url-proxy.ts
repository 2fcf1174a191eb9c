// HTTP through a sandbox URL (Host-header routing, token check, relay) against the same requests
// sent straight to the sandbox's address from the host, same client, same run: requests per
// second with 8 concurrent keep-alive connections, and the median latency of one request at a
// time. The app is a small node server inside, under runc (where the proxy's own cost shows)
// and gVisor (the default). Two relays in a process of their own show what any relay costs
// here: a bare Node.js HTTP relay, and a plain TCP pipe that looks at nothing (no relay that
// must strip credentials from each request can beat it).
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { APP_SERVER } from '../test/support/app-server.js';
import { log, type BenchContext, type Benchmark, type Figure } from './context.js';
import { formatMs, median } from './stats.js';

const CONCURRENCY = 8;
const THROUGHPUT_MS = 4_000;
const LATENCY_SAMPLES = 300;

interface Endpoint {
  host: string;
  port: number;
  headers: Record<string, string>;
}

function once(agent: Agent, to: Endpoint): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: to.host, port: to.port, path: '/', agent, headers: to.headers }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
    req.end();
  });
}

async function throughput(to: Endpoint): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const until = performance.now() + THROUGHPUT_MS;
  let done = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        await once(agent, to);
        done++;
      }
    }),
  );
  agent.destroy();
  return done / ((performance.now() - t0) / 1000);
}

async function latencies(to: Endpoint): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const t0 = performance.now();
    await once(agent, to);
    times.push(performance.now() - t0);
  }
  agent.destroy();
  return times;
}

/** The least any HTTP relay in Node.js costs: no routing, auth or wake; its own process, like burrow. */
const BARE_RELAY = `
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const server = http.createServer((req, res) => {
  const up = http.request({ host: process.env.HOST, port: Number(process.env.PORT), path: req.url, method: req.method, headers: req.headers, agent }, (answer) => {
    res.writeHead(answer.statusCode, answer.headers);
    answer.pipe(res);
  });
  up.on('socket', (s) => s.setNoDelay(true));
  req.pipe(up);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

/** A relay that copies bytes and nothing else. */
const TCP_PIPE = `
const net = require('node:net');
const server = net.createServer((client) => {
  const up = net.connect(Number(process.env.PORT), process.env.HOST);
  up.setNoDelay(true);
  client.setNoDelay(true);
  client.pipe(up).pipe(client);
  client.on('error', () => up.destroy());
  up.on('error', () => client.destroy());
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

async function relayProcess(code: string, target: Endpoint): Promise<{ stop: () => void; port: number }> {
  const child = spawn(process.execPath, ['-e', code], { env: { ...process.env, HOST: target.host, PORT: String(target.port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (b: Buffer) => resolve(Number(b.toString().trim()))));
  return { stop: () => child.kill(), port };
}

export const urlProxy: Benchmark = {
  name: 'url-proxy',
  description: 'HTTP requests/s and latency through the sandbox URL vs straight to the sandbox address',
  async run(ctx: BenchContext) {
    const burrow = await ctx.burrow();
    const figures: Figure[] = [];
    const data: Record<string, unknown> = {};
    for (const runtime of ['runc', 'gvisor'] as const) {
      await ctx.withSandbox(`url-${runtime}`, { runtime }, async (sandbox) => {
        await sandbox.exec('sh', ['-c', 'setsid node -e "$APP" > /tmp/app.log 2>&1 < /dev/null &'], { env: { APP: APP_SERVER } });
        for (let i = 0; i < 100 && !(await sandbox.exec('cat', ['/tmp/app.log'])).stdout.includes('listening'); i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        const address = (await sandbox.exec('sh', ['-c', "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"])).stdout.trim();
        const port = Number(new URL(burrow.url).port);
        const viaUrl: Endpoint = { host: '127.0.0.1', port, headers: { host: `${sandbox.name}.localhost:${port}`, authorization: `Bearer ${burrow.token}` } };
        const direct: Endpoint = { host: address, port: 8080, headers: {} };
        // Warm both paths (JIT, connection pools) before measuring.
        await throughput({ ...viaUrl }).then(() => throughput(direct));
        const rpsUrl = await throughput(viaUrl);
        const rpsDirect = await throughput(direct);
        const bare = await relayProcess(BARE_RELAY, direct);
        const rpsBare = await throughput({ host: '127.0.0.1', port: bare.port, headers: {} });
        bare.stop();
        const pipe = await relayProcess(TCP_PIPE, direct);
        const rpsPipe = await throughput({ host: '127.0.0.1', port: pipe.port, headers: {} });
        pipe.stop();
        const latUrl = await latencies(viaUrl);
        const latDirect = await latencies(direct);
        const relays = `a bare Node.js HTTP relay: ${rpsBare.toFixed(0)} req/s, a plain TCP pipe: ${rpsPipe.toFixed(0)} req/s`;
        log(`${runtime}: URL ${rpsUrl.toFixed(0)} req/s, direct ${rpsDirect.toFixed(0)} req/s -> ${(100 * rpsUrl / rpsDirect).toFixed(0)}% of direct (${relays}); median latency URL ${formatMs(median(latUrl))}, direct ${formatMs(median(latDirect))}`);
        figures.push(
          {
            label: `time per request at ${CONCURRENCY} connections, sandbox URL (${runtime})`,
            value: 1000 / rpsUrl,
            unit: 'ms',
            detail: `${rpsUrl.toFixed(0)} req/s vs ${rpsDirect.toFixed(0)} direct = ${(100 * rpsUrl / rpsDirect).toFixed(0)}% of direct; ${relays}`,
            baseline: { label: 'straight to the sandbox address', value: 1000 / rpsDirect },
            compare: 'ratio',
            goal: { text: 'at least 70% of direct throughput', met: rpsUrl >= 0.7 * rpsDirect },
          },
          {
            label: `median latency, one request at a time, sandbox URL (${runtime})`,
            value: median(latUrl),
            unit: 'ms',
            detail: `n=${LATENCY_SAMPLES}`,
            baseline: { label: 'straight to the sandbox address', value: median(latDirect) },
            compare: 'ratio',
          },
        );
        data[runtime] = { rpsUrl, rpsDirect, rpsBare, rpsPipe, latUrl, latDirect };
      });
    }
    return { figures, data };
  },
};
