// Composition root: builds every object burrow serve needs, wires them together and starts the
// API. Nothing else in the server constructs collaborators.
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { buildApi } from './api/app.js';
import { DashboardAssets } from './api/dashboard-assets.js';
import { TokenAuthority } from './auth/api-tokens.js';
import { ensureKeyFile } from './auth/root-key.js';
import { homePaths, type BurrowConfig } from './config.js';
import { checkpointHooks, Checkpoints } from './core/checkpoints.js';
import { reconcile } from './core/reconciler.js';
import { SandboxFs } from './core/sandbox-fs.js';
import { SandboxManager } from './core/sandbox-manager.js';
import { SessionRegistry } from './core/sessions.js';
import { CheckpointStore } from './db/checkpoints.js';
import { ApiTokenStore } from './db/api-tokens.js';
import { openDatabase } from './db/database.js';
import { SandboxStore } from './db/sandboxes.js';
import { doctor } from './host/doctor.js';
import { NetnsManager } from './network/netns.js';
import { createRuntimes } from './runtime/runtimes.js';
import { ImageStore } from './storage/images.js';
import { ensurePool } from './storage/pool.js';
import { SandboxDisks } from './storage/sandbox-disks.js';
import { Snapshots } from './storage/snapshots.js';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

const DEFAULT_STORAGE_GB = 10;

export async function serve(config: BurrowConfig, log: (line: string) => void = console.log): Promise<RunningServer> {
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
  const runtimes = await createRuntimes(config, log);
  const disks = new SandboxDisks(pool, paths.sandboxes);
  const netns = new NetnsManager(`burrow-${config.instanceTag}-`);
  const crashPoint = (step: string) => {
    if (config.crashAt === step) process.kill(process.pid, 'SIGKILL');
  };
  const checkpointStore = new CheckpointStore(db);
  const snapshots = new Snapshots(pool, disks);
  // Quota groups only give checkpoint sizes: without them sizes read null, nothing else changes.
  await snapshots.enableQuotas().catch((e: Error) => log(`btrfs quotas could not be enabled; checkpoint sizes are unknown: ${e.message}`));
  const manager = new SandboxManager({
    store,
    runtimes,
    disks,
    images,
    netns,
    instanceTag: config.instanceTag,
    limits: { running: 1000, warm: 1000 },
    crashPoint,
    hooks: checkpointHooks({ store: checkpointStore, snapshots, crashPoint }),
  });
  const checkpoints = new Checkpoints({
    manager,
    sandboxes: store,
    store: checkpointStore,
    snapshots,
    autoKeep: config.autoCheckpoint.keep,
    crashPoint,
    log,
  });

  const sessions = new SessionRegistry();
  const repaired = await reconcile({ store, manager, runtimes, disks, netns, images, checkpoints });
  for (const [what, list] of Object.entries(repaired)) {
    if (list.length) log(`reconciler: ${what}: ${list.join(', ')}`);
  }

  const tokens = new TokenAuthority(await ensureKeyFile(paths.tokenKey), new ApiTokenStore(db));
  await tokens.ensureAdminToken(paths.adminToken);
  // The dashboard is built by Vite into dist/web, beside this file once compiled.
  const dashboard = await DashboardAssets.load(fileURLToPath(new URL('./web/', import.meta.url)));
  if (dashboard.missing) log(`dashboard: ${dashboard.missing}`);
  const { host, port } = config.listen;
  const app = await buildApi({
    manager,
    checkpoints,
    fs: new SandboxFs(manager),
    sessions,
    tokens,
    dashboard,
    defaults: {
      runtime: config.defaultRuntime,
      image: config.defaultImage,
      cpus: config.defaults.cpus,
      ramMb: config.defaults.ramMb,
      storageGb: DEFAULT_STORAGE_GB,
    },
    view: {
      urlFor: (name) => `http://${name}.localhost:${actualPort()}`,
      isolationOf: (record) => runtimes[record.runtime].isolation,
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

  return {
    url,
    async close() {
      // Sandboxes keep running: they belong to the host, not to this process.
      stopAutoCheckpoints();
      await app.close();
      db.close();
    },
  };
}
