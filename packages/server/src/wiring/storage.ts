// Storage and observability stages of `burrow serve`: the pool, the disks, the database and its
// stores; then metrics and the event log, which every later stage reports to.
import type { BurrowConfig } from '../config.js';
import { EventLog } from '../core/events.js';
import { Metrics } from '../core/metrics.js';
import { ServiceStore } from '../db/services.js';
import { CheckpointStore } from '../db/checkpoints.js';
import { openDatabase, type Db } from '../db/database.js';
import { EventStore } from '../db/events.js';
import { SandboxStore } from '../db/sandboxes.js';
import { UsageStore } from '../db/usage.js';
import type { Logger } from '../log.js';
import { SecretStore } from '../db/secrets.js';
import { ImageStore } from '../storage/images.js';
import { ensurePool } from '../storage/pool.js';
import { SandboxDisks } from '../storage/sandbox-disks.js';
import { Snapshots } from '../storage/snapshots.js';
import type { Host } from './host.js';

/** Events older than this are deleted. */
const EVENT_RETENTION_MS = 90 * 86_400_000;

export interface Storage {
  pool: Awaited<ReturnType<typeof ensurePool>>;
  images: ImageStore;
  disks: SandboxDisks;
  snapshots: Snapshots;
  /** Whether btrfs quota groups work: sizes, storage limits and disk metering depend on them. */
  quotas: boolean;
  db: Db;
  store: SandboxStore;
  checkpointStore: CheckpointStore;
  secretStore: SecretStore;
  serviceStore: ServiceStore;
  usageStore: UsageStore;
}

/** The btrfs pool with the default image, the sandboxes' disks, and the database. */
export async function openStorage(config: BurrowConfig, { log, logger, paths }: Host): Promise<Storage> {
  const pool = await ensurePool(config, log);
  const images = new ImageStore(config, pool);
  await images.ensure(config.defaultImage, log);
  const db = openDatabase(paths.database);
  const disks = new SandboxDisks(pool, paths.sandboxes);
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
  return {
    pool,
    images,
    disks,
    snapshots,
    quotas,
    db,
    store: new SandboxStore(db),
    checkpointStore: new CheckpointStore(db),
    secretStore: new SecretStore(db),
    serviceStore: new ServiceStore(db),
    usageStore: new UsageStore(db),
  };
}

export interface Observed {
  metrics: Metrics;
  events: EventLog;
}

/** Metrics and the event log: every later stage reports to them. */
export function observe({ db, store }: Storage, logger: Logger): Observed {
  const metrics = new Metrics({ sandboxCounts: () => store.countByStatus() });
  const events = new EventLog({
    store: new EventStore(db),
    log: (e) => logger.info({ sandbox: e.sandboxName, sandboxId: e.sandboxId, event: e.type, ...e.detail }, e.message),
    count: (type) => metrics.event(type),
  });
  events.prune(EVENT_RETENTION_MS);
  return { metrics, events };
}
