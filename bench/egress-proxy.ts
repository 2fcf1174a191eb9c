// The egress proxy's cost: one HTTPS request with a placeholder, through the proxy (TLS ended
// with a leaf of the install CA, placeholder verified, secret injected, re-sent over verified
// TLS), against the same request sent straight to the upstream, same client, same run. Both
// keep their connections warm (keep-alive), as an agent's HTTP client does. The upstream is a
// local HTTPS server; the proxy is reached the way a redirected sandbox connection reaches it
// (TLS with the upstream's name as SNI). A request without a placeholder shows pass-through.
import { createServer, Agent, request, type Server } from 'node:https';
import { BlockList, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CertificateAuthority, EgressProxy, Injector, Placeholders, TokenizerKeys } from '@burrow/server/testing';
import { log, type BenchContext, type Benchmark, type Figure } from './context.js';
import { formatMs, median, p90 } from './stats.js';

const SAMPLES = 500;
const WARMUP = 50;
const HOST = 'api.bench.test';
const SECRET = 'sk_bench_value';

interface Target {
  port: number;
  ca: string;
  headers: Record<string, string>;
}

function once(agent: Agent, to: Target): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: to.port, servername: HOST, ca: to.ca, path: '/v1/charges', agent, headers: { host: HOST, ...to.headers } },
      (res) => {
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
        res.resume();
        res.on('end', () => resolve());
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * One request to each target in turn, on one warm connection per target: interleaving keeps
 * the load of a shared machine and the JIT's warming from favouring whichever runs first.
 */
async function latencies(targets: Target[]): Promise<number[][]> {
  const agents = targets.map(() => new Agent({ keepAlive: true, maxSockets: 1 }));
  const times: number[][] = targets.map(() => []);
  try {
    for (let i = 0; i < WARMUP + SAMPLES; i++) {
      for (const [k, to] of targets.entries()) {
        const t0 = performance.now();
        await once(agents[k]!, to);
        if (i >= WARMUP) times[k]!.push(performance.now() - t0);
      }
    }
  } finally {
    for (const agent of agents) agent.destroy();
  }
  return times;
}

export const egressProxy: Benchmark = {
  name: 'egress-proxy',
  description: 'HTTPS request with secret injection through the egress proxy vs direct (warm connections)',
  async run(ctx: BenchContext) {
    const dir = await ctx.tempDir('egress');
    const ca = await CertificateAuthority.open(join(dir, 'ca'));
    const upstreamCa = await CertificateAuthority.open(join(dir, 'upstream-ca'));
    const leaf = await upstreamCa.leafFor(HOST);
    let sawSecret = 0;
    const upstream: Server = createServer({ key: leaf.key, cert: leaf.cert }, (req, res) => {
      if (req.headers.authorization === `Bearer ${SECRET}`) sawSecret++;
      res.end('{"ok":true}');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const upstreamPort = (upstream.address() as AddressInfo).port;

    const placeholders = new Placeholders(Buffer.alloc(32, 1), (id) =>
      id === 'g' ? { id, secret: 'stripe', sandboxId: 'bench', sandbox: 'bench', revoked: false } : undefined,
    );
    const proxy = new EgressProxy({
      ca,
      injector: new Injector(
        placeholders,
        () => ({ hosts: [HOST], inject: 'Authorization: Bearer {}', value: SECRET }),
        await TokenizerKeys.open(join(dir, 'tokenizer.key')),
      ),
      identify: (remote) => ({ id: 'bench', name: 'bench', address: remote }),
      policyRefusal: () => null,
      blocked: new BlockList(),
      audit: () => {},
      upstreamCa: [upstreamCa.certPem],
      lookup: (_name, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]),
      transparentPorts: { http: upstreamPort, https: upstreamPort },
    });
    const proxyPort = await proxy.start(0, '127.0.0.1');
    const placeholder = placeholders.mint('g', ['sandbox = bench', 'secret = stripe', `host = ${HOST}`]);

    try {
      const [direct, injected, passThrough] = (await latencies([
        { port: upstreamPort, ca: upstreamCa.certPem, headers: { authorization: `Bearer ${SECRET}` } },
        { port: proxyPort, ca: ca.certPem, headers: { authorization: `Bearer ${placeholder}` } },
        { port: proxyPort, ca: ca.certPem, headers: { authorization: 'Bearer mine' } },
      ])) as [number[], number[], number[]];
      if (sawSecret < SAMPLES * 2) throw new Error(`the upstream saw the secret ${sawSecret} times, expected ${SAMPLES * 2}`);

      const added = median(injected) - median(direct);
      log(`direct ${formatMs(median(direct))}, with injection ${formatMs(median(injected))} (+${formatMs(added)}), pass-through ${formatMs(median(passThrough))}`);
      const figures: Figure[] = [
        {
          label: 'HTTPS GET with secret injection via the proxy (median)',
          value: median(injected),
          unit: 'ms',
          detail: `p90 ${formatMs(p90(injected))}, n=${SAMPLES}`,
          baseline: { label: 'direct to the upstream', value: median(direct) },
          compare: 'ratio',
          goal: { text: '< 2 ms added (warm)', met: added < 2 },
        },
        {
          label: 'HTTPS GET without placeholder via the proxy (median)',
          value: median(passThrough),
          unit: 'ms',
          detail: `p90 ${formatMs(p90(passThrough))}, n=${SAMPLES}`,
          baseline: { label: 'direct to the upstream', value: median(direct) },
          compare: 'ratio',
        },
      ];
      return { figures, data: { direct, injected, passThrough, addedMs: added } };
    } finally {
      await proxy.close();
      upstream.close();
    }
  },
};
