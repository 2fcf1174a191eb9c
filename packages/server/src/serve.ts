// Composition root: builds every object burrow serve needs, wires them together and starts the
// API. Nothing else in the server constructs collaborators. Each stage lives in wiring/.
import type { BurrowConfig } from './config.js';
import { IdleTimer } from './core/idle.js';
import { reconcile } from './core/reconciler.js';
import { createLogger, type Logger } from './log.js';
import { buildCore, type Core } from './wiring/core.js';
import { startEgress, type Egress } from './wiring/egress.js';
import { prepareHost, type Host } from './wiring/host.js';
import { buildInSandboxApi } from './wiring/in-sandbox.js';
import { startNetwork, type Network } from './wiring/network.js';
import { startApi, type PublicApi } from './wiring/public-api.js';
import { openStorage, observe, type Storage } from './wiring/storage.js';

export interface RunningServer {
  url: string;
  /** Writes a line to the daemon's log. */
  log(line: string): void;
  close(): Promise<void>;
}

/**
 * The graph is built in stages, each a function of the config and the stages before it that
 * answers a typed record: host -> storage -> observability -> network -> egress -> core ->
 * in-sandbox API -> recovery -> public API -> timers. Nothing refers to what a later stage makes.
 */
export async function serve(
  config: BurrowConfig,
  logger: Logger = createLogger({ level: config.logLevel }),
): Promise<RunningServer> {
  const host = await prepareHost(config, logger);
  const storage = await openStorage(config, host);
  const observed = observe(storage, logger);
  const network = await startNetwork(config, host, storage, observed);
  const egress = await startEgress(config, host, storage, observed, network);
  const core = await buildCore(config, host, storage, observed, network, egress);
  const inSandbox = buildInSandboxApi(host, storage, core);
  await recover(host, storage, network, egress, core);
  await inSandbox.sandboxApi.start();
  const api = await startApi(config, host, storage, observed, network, egress, core);
  const stopTimers = startTimers(config, host, core, api);

  return {
    url: api.url,
    log: host.log,
    async close() {
      // Sandboxes keep running: they belong to the host, not to this process.
      stopTimers();
      await inSandbox.sandboxApi.close();
      await api.app.close();
      await network.resolver.close();
      await core.meter.stop();
      core.diskGauge?.stop();
      await egress.proxy.close();
      storage.db.close();
    },
  };
}

/** What a crash left half done is finished or rolled back, before anything is served. */
async function recover({ log, logger }: Host, storage: Storage, network: Network, egress: Egress, core: Core): Promise<void> {
  const { store, disks, images } = storage;
  const { manager, runtimes, checkpoints, limits } = core;
  const repaired = await reconcile({ store, manager, runtimes, disks, network: network.networks, images, checkpoints });
  const forgotten = await egress.secrets.repair((id) => store.byId(id) !== undefined);
  if (forgotten.length) logger.info(`secrets: grants of destroyed sandboxes forgotten: ${forgotten.join(', ')}`);
  for (const [what, list] of Object.entries(repaired)) {
    if (list.length) log(`reconciler: ${what}: ${list.join(', ')}`);
  }
  const notReapplied = await limits.reapplyAll();
  if (notReapplied.length) logger.warn(`limits could not be applied again to: ${notReapplied.join(', ')}`);
}

/** What runs on its own once burrow listens; answers the function that stops it all. */
function startTimers(config: BurrowConfig, { log }: Host, core: Core, api: PublicApi): () => void {
  const { manager, checkpoints, meter, diskGauge, activity, tasks, services } = core;
  const { intervalMs } = config.autoCheckpoint;
  const stopAutoCheckpoints = intervalMs ? checkpoints.startAutoTimer(intervalMs) : () => {};
  if (config.meter) meter.start();
  diskGauge?.start();
  const idle = new IdleTimer({ manager, activity, defaults: config.sleep, holds: [tasks.holds], log });
  const stopIdle = idle.start();
  const stopE2bLifetimes = api.e2bLifetimes.start();
  services.restartAfterDaemonStart();
  return () => {
    stopAutoCheckpoints();
    stopIdle();
    stopE2bLifetimes();
  };
}
