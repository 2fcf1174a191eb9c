// Composition root: builds every object burrow serve needs, wires them together and starts the
// API. Nothing else in the server constructs collaborators.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApi } from './api/app.js';
import { DEFAULT_HTTP_PORT, SandboxUrls } from './api/sandbox-urls.js';
import { UrlAccess } from './api/url-access.js';
import { DashboardLogins } from './api/dashboard-auth.js';
import { BrowserSessions } from './auth/browser-sessions.js';
import { BrowserSessionStore } from './db/browser-sessions.js';
import { TokenBoundConnections } from './api/token-bound-connections.js';
import { DashboardAssets } from './api/dashboard-assets.js';
import { TokenAuthority, TokenRefused } from './auth/api-tokens.js';
import { ensureKeyFile } from './auth/root-key.js';
import { homePaths, type BurrowConfig } from './config.js';
import { Activity } from './core/activity.js';
import { checkpointHooks, Checkpoints } from './core/checkpoints.js';
import { StorageRoom } from './core/storage-room.js';
import { Capacity } from './core/capacity.js';
import { EventLog } from './core/events.js';
import { Meter } from './core/meter.js';
import { Metrics } from './core/metrics.js';
import { sandboxIdOf } from './core/sandbox-containers.js';
import { SandboxLimits } from './core/sandbox-limits.js';
import { healthReporter } from './core/sandbox-health.js';
import { ProcessLimitWatch } from './core/process-limit.js';
import { HOST_PID_MAX, raisePidMax } from './host/pid-space.js';
import { Usage } from './core/usage.js';
import { egressHooks } from './core/egress-hooks.js';
import { IdleTimer } from './core/idle.js';
import { Services } from './core/services.js';
import { codeInterpreterHooks } from './core/code-interpreter.js';
import { Tasks } from './core/tasks.js';
import { SandboxApi } from './api/sandbox-api.js';
import { TaskStore } from './db/tasks.js';
import { ServiceStore } from './db/services.js';
import { reconcile } from './core/reconciler.js';
import { SandboxFs } from './core/sandbox-fs.js';
import { EgressPolicies } from './core/egress-policies.js';
import { combineHooks } from './core/sandbox-hooks.js';
import { SandboxManager } from './core/sandbox-manager.js';
import { SandboxStatuses, throwIllegal } from './core/sandbox-status.js';
import { Privileges } from './core/privileges.js';
import { PrivilegesStore } from './db/privileges.js';
import { Secrets } from './core/secrets.js';
import { SessionRegistry } from './core/sessions.js';
import { CheckpointStore } from './db/checkpoints.js';
import { ApiTokenStore } from './db/api-tokens.js';
import { openDatabase } from './db/database.js';
import { NetworkStore } from './db/networks.js';
import { EventStore } from './db/events.js';
import { SandboxStore } from './db/sandboxes.js';
import { UsageStore } from './db/usage.js';
import { createLogger, lineLogger, type Logger } from './log.js';
import { SecretStore } from './db/secrets.js';
import { CertificateAuthority } from './egress/certificate-authority.js';
import { blockedRanges } from './egress/destinations.js';
import { Injector } from './egress/injector.js';
import { Placeholders } from './egress/placeholders.js';
import { EgressProxy } from './egress/proxy.js';
import { SandboxTrust } from './egress/sandbox-trust.js';
import { SecretSealer } from './egress/secret-sealing.js';
import { TokenizerKeys } from './egress/tokenizer-secrets.js';
import { dnsServerLookup } from './egress/upstream-lookup.js';
import { doctor } from './host/doctor.js';
import { AddressPool } from './network/address-pool.js';
import { DnsResolver, parseUpstream } from './network/dns-resolver.js';
import { enableIpv4Forwarding, HostFirewall } from './network/firewall.js';
import { BLOCKED_RANGES } from './network/firewall-rules.js';
import { NetnsManager } from './network/netns.js';
import { LISTENER_OWNERS_COMMAND, parseListenerOwners, PortWatchers } from './network/port-watcher.js';
import { SandboxNetworks } from './network/sandbox-network.js';
import { VethPairs, vethPrefix } from './network/veth.js';
import { DEFAULT_PATH } from './runtime/oci-bundle.js';
import { createRuntimes } from './runtime/runtimes.js';
import { ImageStore } from './storage/images.js';
import { ensurePool, poolSpace } from './storage/pool.js';
import { measureHost } from './core/host-size.js';
import { DiskGauge, DISK_GAUGE_INTERVAL_MS } from './core/disk-gauge.js';
import { SandboxDisks } from './storage/sandbox-disks.js';
import { Snapshots } from './storage/snapshots.js';
import { E2bAdapter } from './api/e2b/index.js';
import { E2bLifetimes } from './core/e2b-lifetimes.js';
import { E2bSandboxStore } from './db/e2b-sandboxes.js';
import { ImageExports } from './core/image-exports.js';
import { ImageImports } from './core/image-imports.js';
import { BaseLayers } from './oci/base-layers.js';
import { BURROW_IMAGE_FILES } from './storage/image-recipes.js';

export interface RunningServer {
  url: string;
  /** Writes a line to the daemon's log. */
  log(line: string): void;
  close(): Promise<void>;
}

/** Events older than this are deleted. */
const EVENT_RETENTION_MS = 90 * 86_400_000;
/** How long asking a sandbox which process opened a port may take before its pid reads 0. */
const PID_LOOKUP_TIMEOUT_MS = 5_000;

export async function serve(
  config: BurrowConfig,
  logger: Logger = createLogger({ level: config.logLevel }),
): Promise<RunningServer> {
  const log = lineLogger(logger);
  const report = await doctor(config, { fix: true, log });
  if (!report.ok) throw new Error(`the host is not ready:\n  ${report.problems.join('\n  ')}`);

  const paths = homePaths(config);
  await mkdir(config.home, { recursive: true, mode: 0o700 });
  await mkdir(paths.sandboxes, { recursive: true });
  const pool = await ensurePool(config, log);
  const images = new ImageStore(config, pool);
  await images.ensure(config.defaultImage, log);

  const db = openDatabase(paths.database);
  const store = new SandboxStore(db);
  const metrics = new Metrics({ sandboxCounts: () => store.countByStatus() });
  const events = new EventLog({
    store: new EventStore(db),
    log: (e) => logger.info({ sandbox: e.sandboxName, sandboxId: e.sandboxId, event: e.type, ...e.detail }, e.message),
    count: (type) => metrics.event(type),
  });
  events.prune(EVENT_RETENTION_MS);
  const netns = new NetnsManager(`burrow-${config.instanceTag}-`);
  const runtimes = await createRuntimes(config, (containerId) => netns.pathFor(sandboxIdOf(containerId)), log);
  const disks = new SandboxDisks(pool, paths.sandboxes);
  const addressPool = new AddressPool(config.network.pool);
  const firewall = new HostFirewall(`burrow-${config.instanceTag}`, vethPrefix(config.instanceTag), addressPool.cidr);
  const networks = new SandboxNetworks({
    netns,
    veths: new VethPairs(vethPrefix(config.instanceTag)),
    firewall,
    store: new NetworkStore(db),
    pool: addressPool,
    filesDir: join(config.home, 'network'),
    crashPoint: (step) => crashPoint(step),
  });
  const crashPoint = (step: string) => {
    if (config.crashAt === step) process.kill(process.pid, 'SIGKILL');
  };
  const checkpointStore = new CheckpointStore(db);
  const snapshots = new Snapshots(pool, disks);
  // Quota groups give checkpoint sizes, storage limits and disk metering: without them sizes
  // read null, storage_gb is not enforced and disks are not metered; nothing else changes.
  const quotas = await snapshots.enableQuotas().then(
    (rescanning) => {
      if (rescanning) logger.warn('btrfs quota numbers were inconsistent: a rescan of the pool runs; sizes and budgets read low until it is done');
      return true;
    },
    (e: Error) => {
      logger.warn(`btrfs quotas could not be enabled; storage limits are not enforced and checkpoint sizes are unknown: ${e.message}`);
      return false;
    },
  );
  // Egress: the CA sandboxes trust, secrets sealed at rest, placeholders minted with their own key.
  await mkdir(paths.egress, { recursive: true, mode: 0o700 });
  const ca = await CertificateAuthority.open(join(paths.egress, 'ca'));
  const trust = new SandboxTrust(join(paths.egress, 'trust'), ca.certPem);
  await trust.prepare();
  const secretStore = new SecretStore(db);
  const placeholders = new Placeholders(await ensureKeyFile(join(paths.egress, 'placeholder.key')), (id) =>
    secrets.grantForPlaceholder(id),
  );
  const secrets: Secrets = new Secrets({
    store: secretStore,
    sealer: new SecretSealer(await ensureKeyFile(join(paths.egress, 'secrets.key'))),
    placeholders,
    sandboxes: store,
    filesDir: join(paths.egress, 'grants'),
  });
  const tokenizer = await TokenizerKeys.open(join(paths.egress, 'tokenizer.key'));
  let proxyPort = 0; // known once the proxy listens, before any sandbox boots
  const proxyUrlOf = (sandboxId: string) => {
    const subnet = networks.subnetOf(sandboxId);
    return subnet && proxyPort ? `http://${subnet.gateway}:${proxyPort}` : undefined;
  };

  const storageRoom = new StorageRoom({
    poolSpace: () => poolSpace(pool),
    reserveBytes: config.poolReserveBytes,
    spaceOf: (sandboxId) => snapshots.space(sandboxId),
    settle: () => snapshots.settle(),
    budgetPerStorageGb: config.checkpointBudget,
  });
  const activity = new Activity();
  const privileges = new Privileges({ store: new PrivilegesStore(db), sandboxes: store, events });
  const capacity = new Capacity(
    store,
    { running: config.limits.running, warm: config.limits.warm },
    config.limits.capacityWaitMs,
    () => measureHost(pool.root),
  );
  const processLimit = new ProcessLimitWatch({
    events,
    guestTasks: (record) => runtimes[record.runtime].tasks(record.containerId),
  });
  // Tests ask for illegal status changes to throw; a running daemon logs them (see SandboxStatuses).
  const statuses = new SandboxStatuses(store, config.strictTransitions ? throwIllegal : (e) => log(`lifecycle: ${e.message}`));
  const manager = new SandboxManager({
    store,
    statuses,
    runtimes,
    disks,
    images,
    network: networks,
    instanceTag: config.instanceTag,
    capacity,
    storageRoom,
    events,
    metrics,
    storageLimits: quotas,
    runcUserNamespace: config.runcUserNamespace,
    crashPoint,
    hooks: combineHooks(checkpointHooks({ store: checkpointStore, snapshots, crashPoint }), egressHooks(secrets, trust, proxyUrlOf)),
    activity,
    privileges: (sandboxId) => privileges.forBoot(sandboxId),
    processLimit,
  });
  const checkpoints = new Checkpoints({
    manager,
    sandboxes: store,
    store: checkpointStore,
    snapshots,
    autoKeep: config.autoCheckpoint.keep,
    room: storageRoom,
    crashPoint,
    log,
    events,
    metrics,
  });
  const limits = new SandboxLimits({ manager, store, disks, events, capacity, storageLimits: quotas });
  const health = healthReporter({ store, manager, events, cgroupOf: (record) => manager.cgroupOf(record) });
  const usageStore = new UsageStore(db);
  const meter = new Meter({
    sandboxes: store,
    usage: usageStore,
    readCgroup: (record) => manager.cgroupOf(record).read(),
    diskUsage: () => (quotas ? disks.usage() : Promise.resolve(new Map())),
    noticed: (record, finding) => void health(record.name, finding),
    observed: (record, reading) => processLimit.observe(record, reading),
    tickDuration: (seconds) => metrics.meterTick(seconds),
    log: (line) => logger.warn(line),
    intervals: { diskMs: config.meterDiskIntervalMs },
  });
  const usage = new Usage({ store: usageStore, flush: () => meter.flush(), prices: config.prices });

  const egress = new EgressPolicies(manager, networks, firewall);
  const resolver = new DnsResolver(
    parseUpstream(config.network.dnsUpstream),
    (address) => egress.clientAt(address),
    log,
    () => metrics.proxyRefused('dns_policy'),
  );
  const dnsPort = await resolver.start();
  firewall.addGatewayService({ name: 'dns', protocols: ['udp', 'tcp'], port: dnsPort, redirectFrom: [53] });
  if (await enableIpv4Forwarding()) log('enabled IPv4 forwarding (net.ipv4.ip_forward=1) for sandbox egress');
  const oldPidMax = await raisePidMax();
  if (oldPidMax !== null) log(`raised kernel.pid_max from ${oldPidMax} to ${HOST_PID_MAX}: sandboxes' process limits must not add up to the host's`);

  // The egress proxy: sandboxes' TCP 80 and 443 are redirected to it on their gateway address
  // (only where the firewall would let the traffic out anyway), or they use it explicitly.
  const dnsUpstream = parseUpstream(config.network.dnsUpstream);
  const proxy = new EgressProxy({
    ca,
    injector: new Injector(placeholders, (name) => secrets.secretForUse(name), tokenizer),
    // A connection is a sandbox's when it comes from its address to its own gateway.
    identify: (remote, local) => {
      const row = networks.sandboxAt(remote);
      const record = row && store.byId(row.sandboxId);
      if (!row || !record || networks.subnetOf(row.sandboxId)?.gateway !== local) return null;
      return { id: record.id, name: record.name, address: remote };
    },
    policyRefusal: (sandbox, host) =>
      sandbox && egress.clientAt(sandbox.address)?.allows(host) === false ? `the egress policy of '${sandbox.name}' does not allow ${host}` : null,
    blocked: blockedRanges([...BLOCKED_RANGES, config.network.pool]),
    audit: (event) => secretStore.audit({ ...event, at: new Date().toISOString() }),
    counters: { injected: () => metrics.proxyInjected(), refused: (reason) => metrics.proxyRefused(reason) },
    ...(config.network.dnsUpstream ? { lookup: dnsServerLookup(dnsUpstream) } : {}),
    ...(config.egress.upstreamCaFile ? { upstreamCa: [await readFile(config.egress.upstreamCaFile, 'utf8')] } : {}),
  });
  proxyPort = await proxy.start(config.egress.proxyPort);
  firewall.addGatewayService({ name: 'egress-proxy', protocols: ['tcp'], port: proxyPort, redirectFrom: [80, 443], onlyWhereAllowed: true });

  const serviceStore = new ServiceStore(db);
  const services = new Services({ manager, store: serviceStore, log });
  manager.addHooks(services.hooks());
  manager.addHooks(codeInterpreterHooks(serviceStore));
  const tasks = new Tasks(new TaskStore(db));
  const sandboxApi = new SandboxApi({ manager, tasks, checkpoints, services, activity, hostDirOf: (id) => disks.hostDir(id), log });
  manager.addHooks(sandboxApi.hooks());
  // Without quota groups there is no usage to show: `df` then shows the pool, as it would anyway.
  const diskGauge = quotas ? new DiskGauge({ sandboxes: store, disks, events, intervalMs: DISK_GAUGE_INTERVAL_MS, log }) : undefined;
  if (diskGauge) manager.addHooks(diskGauge.hooks());

  const sessions = new SessionRegistry(activity);
  const repaired = await reconcile({ store, manager, runtimes, disks, network: networks, images, checkpoints });
  const forgotten = await secrets.repair((id) => store.byId(id) !== undefined);
  if (forgotten.length) logger.info(`secrets: grants of destroyed sandboxes forgotten: ${forgotten.join(', ')}`);
  for (const [what, list] of Object.entries(repaired)) {
    if (list.length) log(`reconciler: ${what}: ${list.join(', ')}`);
  }
  const notReapplied = await limits.reapplyAll();
  if (notReapplied.length) logger.warn(`limits could not be applied again to: ${notReapplied.join(', ')}`);

  await sandboxApi.start();

  const tokenKey = await ensureKeyFile(paths.tokenKey);
  const tokens = new TokenAuthority(tokenKey, new ApiTokenStore(db), Date.now, (name) => manager.find(name));

  await tokens.ensureAdminToken(paths.adminToken);
  // The dashboard is built by Vite into dist/web, beside this file once compiled.
  const dashboard = await DashboardAssets.load(fileURLToPath(new URL('./web/', import.meta.url)));
  if (dashboard.missing) log(`dashboard: ${dashboard.missing}`);
  const { host, port } = config.listen;
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
  const targetIn = (sandboxId: string, port: number) => {
    const subnet = networks.subnetOf(sandboxId);
    return subnet && { host: subnet.address, port };
  };
  const proxyTarget = (name: string, port: number) => targetIn(manager.get(name).id, port);
  const sandboxFs = new SandboxFs(manager);
  const defaults = {
    runtime: config.defaultRuntime,
    image: config.defaultImage,
    cpus: config.defaults.cpus,
    ramMb: config.defaults.ramMb,
    storageGb: config.defaults.storageGb,
    pidsLimit: config.defaults.pidsLimit,
  };
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
    grantsOf: (sandbox) => secrets.list().flatMap((s) => s.grants.filter((g) => g.sandbox === sandbox).map((g) => ({ secret: s.name, env: g.env }))),
  });
  const app = await buildApi({
    manager,
    checkpoints,
    imageArchives: { exports, imports: new ImageImports({ manager, services, images, pool, defaults }) },
    fs: sandboxFs,
    sessions,
    foreign: e2b,
    tokens,
    secrets: { secrets, tokenizerPublicKey: tokenizer.publicKeyHex, caCertificate: ca.certPem },
    dashboard,
    dashboardLogins: new DashboardLogins(browserSessions),
    egress,
    urls,
    urlAccess,
    proxyTarget,
    ports: new PortWatchers(
      (id) => netns.pathFor(id),
      async (id) => {
        const record = manager.byId(id);
        if (record?.status !== 'running') return [];
        const spec = { args: LISTENER_OWNERS_COMMAND, env: [`PATH=${DEFAULT_PATH}`], cwd: '/', uid: 0, gid: 0 };
        return parseListenerOwners(await runtimes[record.runtime].run(record.containerId, spec, PID_LOOKUP_TIMEOUT_MS));
      },
    ),
    events,
    metrics,
    logError: (message, detail) => logger.error(detail, message),
    limits,
    privileges,
    usage,
    activity,
    services,
    defaults,
    view: {
      urlFor: (name) => `http://${name}.${config.network.urlDomain}:${actualPort()}`,
      isolationOf: (record) => runtimes[record.runtime].isolation,
      processLimitReached: (record) => processLimit.isExhausted(record),
      sleepDefaults: config.sleep,
    },
  });
  await app.listen({ host, port });
  function actualPort(): number {
    const address = app.server.address();
    return typeof address === 'object' && address ? address.port : port;
  }
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort()}`;
  log(`burrow is listening on ${url}`);
  const { intervalMs } = config.autoCheckpoint;
  const stopAutoCheckpoints = intervalMs ? checkpoints.startAutoTimer(intervalMs) : () => {};
  if (config.meter) meter.start();
  diskGauge?.start();
  const idle = new IdleTimer({ manager, activity, defaults: config.sleep, holds: [tasks.holds], log });
  const stopIdle = idle.start();
  const stopE2bLifetimes = e2bLifetimes.start();
  services.restartAfterDaemonStart();

  return {
    url,
    log,
    async close() {
      // Sandboxes keep running: they belong to the host, not to this process.
      stopAutoCheckpoints();
      stopIdle();
      stopE2bLifetimes();
      await sandboxApi.close();
      await app.close();
      await resolver.close();
      await meter.stop();
      diskGauge?.stop();
      await proxy.close();
      db.close();
    },
  };
}
