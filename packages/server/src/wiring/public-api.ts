// The public API stage of `burrow serve`: burrow's listener.
import { fileURLToPath } from 'node:url';
import { buildApi } from '../api/public/app.js';
import { DEFAULT_HTTP_PORT, SandboxUrls } from '../api/urls/sandbox-urls.js';
import type { FastifyInstance } from 'fastify';
import { UrlAccess } from '../api/urls/url-access.js';
import { DashboardLogins } from '../api/public/dashboard-auth.js';
import { BrowserSessions } from '../auth/browser-sessions.js';
import { BrowserSessionStore } from '../db/browser-sessions.js';
import { TokenBoundConnections } from '../api/public/token-bound-connections.js';
import { DashboardAssets } from '../api/public/dashboard-assets.js';
import { TokenAuthority, TokenRefused } from '../auth/api-tokens.js';
import { ensureKeyFile } from '../auth/root-key.js';
import type { BurrowConfig } from '../config.js';
import { SandboxFs } from '../core/sandbox-fs.js';
import { ApiTokenStore } from '../db/api-tokens.js';
import { hostListenerOwners, LISTENER_OWNERS_COMMAND, parseListenerOwners, PortWatchers, TCP_TABLES_COMMAND } from '../network/port-watcher.js';
import { DEFAULT_PATH } from '../runtime/oci-bundle.js';
import { E2bAdapter } from '../api/public/e2b/index.js';
import { E2bLifetimes } from '../core/e2b-lifetimes.js';
import { E2bSandboxStore } from '../db/e2b-sandboxes.js';
import { ImageExports } from '../core/image-exports.js';
import { ImageImports } from '../core/image-imports.js';
import { BaseLayers } from '../oci/base-layers.js';
import { BURROW_IMAGE_FILES } from '../storage/image-recipes.js';
import type { Core } from './core.js';
import type { Egress } from './egress.js';
import type { Host } from './host.js';
import type { Network } from './network.js';
import type { Storage, Observed } from './storage.js';

/** How long asking a sandbox for its sockets (who opened a port, a VM's tables) may take. */
const SOCKET_LOOKUP_TIMEOUT_MS = 5_000;

export interface PublicApi {
  app: FastifyInstance;
  url: string;
  e2bLifetimes: E2bLifetimes;
}

/** burrow's listener: the Sprites API, the dashboard, sandbox URLs and the E2B API. */
export async function startApi(
  config: BurrowConfig,
  { log, logger, paths, crashPoint }: Host,
  storage: Storage,
  { metrics, events }: Observed,
  network: Network,
  egress: Egress,
  core: Core,
): Promise<PublicApi> {
  const { db, serviceStore, snapshots, disks, images, pool } = storage;
  const { manager, checkpoints, sessions, activity, defaults, runtimes, processLimit } = core;
  const { targetIn } = network;
  const tokenKey = await ensureKeyFile(paths.tokenKey);
  const tokens = new TokenAuthority(tokenKey, new ApiTokenStore(db), Date.now, (name) => manager.find(name));

  await tokens.ensureAdminToken(paths.adminToken);
  // The dashboard is built by Vite into dist/web, beside serve.js once compiled.
  const dashboard = await DashboardAssets.load(fileURLToPath(new URL('../web/', import.meta.url)));
  if (dashboard.missing) log(`dashboard: ${dashboard.missing}`);
  // Opening a sandbox's URL reaches into it like a proxy does: the token needs `exec` on it.
  // Browser sessions (the dashboard's, URL logins) stand for a token: revoking it ends them.
  const browserSessions = new BrowserSessions(new BrowserSessionStore(db));
  browserSessions.endWithRevokedTokens(tokens);
  const urlAccess = new UrlAccess(browserSessions, (token, sandbox) => {
    try {
      tokens.authorize(tokens.authenticate(token), { op: 'exec', sandbox });
      return true;
    } catch {
      return false;
    }
  });
  tokens.onRevoke(() => urlAccess.forgetTokenChecks());
  const urlConnections = new TokenBoundConnections(tokens);
  const urls = new SandboxUrls({
    domain: config.network.urlDomain,
    manager,
    access: urlAccess,
    activity,
    // A URL's WebSocket is relayed byte for byte: ending it is dropping the connection.
    holdWhileTokenValid: (authorization, socket) => {
      const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
      if (token === undefined) return;
      try {
        socket.once('close', urlConnections.hold(tokens.authenticate(token), () => socket.destroy()));
      } catch (e) {
        // Not a live burrow token: the app's own, on a connection a login or public URL opened.
        if (!(e instanceof TokenRefused)) throw e;
      }
    },
    // The URL serves the first service that declares an http_port, else port 8080.
    targetOf: (record) => targetIn(record.id, serviceStore.forSandbox(record.id).find((s) => s.httpPort)?.httpPort ?? DEFAULT_HTTP_PORT),
    targetAt: (record, port) => targetIn(record.id, port),
  });
  const proxyTarget = (name: string, port: number) => targetIn(manager.get(name).id, port);
  /** A fixed command run as root inside a running sandbox (a port watch's), its output. */
  const runInside = async (sandboxId: string, args: string[]): Promise<string> => {
    const record = manager.byId(sandboxId);
    if (record?.status !== 'running') throw new Error('the sandbox is not running');
    const spec = { args, env: [`PATH=${DEFAULT_PATH}`], cwd: '/', uid: 0, gid: 0 };
    return runtimes[record.runtime].run(record.containerId, spec, SOCKET_LOOKUP_TIMEOUT_MS);
  };
  const sandboxFs = new SandboxFs(manager);
  const e2bStore = new E2bSandboxStore(db);
  const e2bLifetimes = new E2bLifetimes({ store: e2bStore, manager, sessions, log });
  const e2b = new E2bAdapter({
    manager, checkpoints, fs: sandboxFs, sessions, tokens, store: e2bStore, proxyTarget, defaults,
    logError: (message, detail) => logger.error(detail, message),
  });
  const exports = new ImageExports({
    manager,
    checkpoints,
    snapshots,
    disks,
    services: serviceStore,
    baseLayers: new BaseLayers(config.imageCache, BURROW_IMAGE_FILES),
    grantsOf: (sandbox) =>
      egress.secrets.list().flatMap((s) => s.grants.filter((g) => g.sandbox === sandbox).map((g) => ({ secret: s.name, env: g.env }))),
  });
  const app = await buildApi({
    manager,
    checkpoints,
    imageArchives: { exports, imports: new ImageImports({ manager, services: core.services, images, pool, defaults, crashPoint }) },
    fs: sandboxFs,
    sessions,
    foreign: e2b,
    tokens,
    secrets: { secrets: egress.secrets, tokenizerPublicKey: egress.tokenizer.publicKeyHex, caCertificate: egress.ca.certPem },
    dashboard,
    dashboardLogins: new DashboardLogins(browserSessions),
    egress: core.egress,
    urls,
    urlAccess,
    proxyTarget,
    ports: new PortWatchers(
      (id) => network.netns.pathFor(id),
      async (id) => {
        // A sandbox without a kernel of its own (runc) runs host processes: the host reads their /proc.
        const record = manager.byId(id);
        if (record && !runtimes[record.runtime].ownKernel) return hostListenerOwners(network.netns.pathFor(id));
        return parseListenerOwners(await runInside(id, LISTENER_OWNERS_COMMAND));
      },
      (id) => {
        const record = manager.byId(id);
        return record && runtimes[record.runtime].ownNetworkStack ? runInside(id, TCP_TABLES_COMMAND) : undefined;
      },
    ),
    events,
    metrics,
    logError: (message, detail) => logger.error(detail, message),
    limits: core.limits,
    privileges: core.privileges,
    usage: core.usage,
    activity,
    services: core.services,
    defaults,
    urlDomain: config.network.urlDomain,
    view: {
      isolationOf: (record) => runtimes[record.runtime].isolation,
      processLimitReached: (record) => processLimit.isExhausted(record),
      sleepDefaults: config.sleep,
    },
  });
  const { host, port } = config.listen;
  await app.listen({ host, port });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  log(`burrow is listening on ${url}`);
  return { app, url, e2bLifetimes };
}
