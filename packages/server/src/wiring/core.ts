// The core stage of `burrow serve`: the sandbox manager and what acts on sandboxes through it.
import type { BurrowConfig } from '../config.js';
import { Activity } from '../core/activity.js';
import { checkpointHooks, Checkpoints } from '../core/checkpoints.js';
import { StorageRoom } from '../core/storage-room.js';
import { Capacity } from '../core/capacity.js';
import { Meter } from '../core/meter.js';
import { sandboxIdOf } from '../core/sandbox-containers.js';
import { SandboxLimits } from '../core/sandbox-limits.js';
import { healthReporter } from '../core/sandbox-health.js';
import { ProcessLimitWatch } from '../core/process-limit.js';
import { Usage } from '../core/usage.js';
import { egressHooks } from '../core/egress-hooks.js';
import { Services } from '../core/services.js';
import { codeInterpreterHooks } from '../core/code-interpreter.js';
import { Tasks } from '../core/tasks.js';
import { TaskStore } from '../db/tasks.js';
import { EgressPolicies } from '../core/egress-policies.js';
import { combineHooks } from '../core/sandbox-hooks.js';
import { SandboxManager, type SandboxDefaults } from '../core/sandbox-manager.js';
import { SandboxStatuses, throwIllegal } from '../core/sandbox-status.js';
import { Privileges } from '../core/privileges.js';
import { PrivilegesStore } from '../db/privileges.js';
import { SessionRegistry } from '../core/sessions.js';
import { createRuntimes, type RuntimeSet } from '../runtime/runtimes.js';
import { poolSpace } from '../storage/pool.js';
import { measureHost } from '../core/host-size.js';
import { DiskGauge, DISK_GAUGE_INTERVAL_MS } from '../core/disk-gauge.js';
import type { Egress } from './egress.js';
import type { Host } from './host.js';
import type { Network } from './network.js';
import type { Storage, Observed } from './storage.js';

export interface Core {
  runtimes: RuntimeSet;
  manager: SandboxManager;
  checkpoints: Checkpoints;
  limits: SandboxLimits;
  privileges: Privileges;
  processLimit: ProcessLimitWatch;
  activity: Activity;
  sessions: SessionRegistry;
  services: Services;
  tasks: Tasks;
  meter: Meter;
  usage: Usage;
  egress: EgressPolicies;
  /** Without quota groups there is no usage to show: `df` then shows the pool, as it would anyway. */
  diskGauge: DiskGauge | undefined;
  defaults: SandboxDefaults;
}

/** The sandbox manager and everything that acts on sandboxes through it. */
export async function buildCore(config: BurrowConfig, host: Host, storage: Storage, { metrics, events }: Observed, network: Network, egressStage: Egress): Promise<Core> {
  const { log, logger, crashPoint } = host;
  const { pool, images, disks, snapshots, quotas, store, checkpointStore, serviceStore, usageStore } = storage;
  const { netns, networks } = network;
  const runtimes = await createRuntimes(config, (containerId) => netns.pathFor(sandboxIdOf(containerId)), log);
  const storageRoom = new StorageRoom({
    poolSpace: () => poolSpace(pool),
    reserveBytes: config.poolReserveBytes,
    spaceOf: (sandboxId) => snapshots.space(sandboxId),
    settle: () => snapshots.settle(),
    budgetPerStorageGb: config.checkpointBudget,
  });
  const activity = new Activity();
  const privileges = new Privileges({ store: new PrivilegesStore(storage.db), sandboxes: store, events });
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
    hooks: combineHooks(
      checkpointHooks({ store: checkpointStore, snapshots, crashPoint, log }),
      egressHooks(egressStage.secrets, egressStage.trust, egressStage.proxyUrlOf),
    ),
    activity,
    privileges: (sandboxId) => privileges.forBoot(sandboxId),
    processLimit,
  });
  egressStage.secrets.onFilesChanged((sandboxId) => {
    manager.copyFilesIn(sandboxId).catch((e: Error) => log(`copying the placeholders into sandbox ${sandboxId} failed: ${e.message}`));
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
  const egress = new EgressPolicies(manager, networks, network.policies);
  const services = new Services({ manager, store: serviceStore, log });
  manager.addHooks(services.hooks());
  manager.addHooks(codeInterpreterHooks(serviceStore));
  const diskGauge = quotas ? new DiskGauge({ sandboxes: store, disks, events, intervalMs: DISK_GAUGE_INTERVAL_MS, log }) : undefined;
  const defaults: SandboxDefaults = {
    runtime: config.defaultRuntime,
    image: config.defaultImage,
    cpus: config.defaults.cpus,
    ramMb: config.defaults.ramMb,
    storageGb: config.defaults.storageGb,
    pidsLimit: config.defaults.pidsLimit,
  };
  return {
    runtimes,
    manager,
    checkpoints,
    limits,
    privileges,
    processLimit,
    activity,
    sessions: new SessionRegistry(activity),
    services,
    tasks: new Tasks(new TaskStore(storage.db)),
    meter,
    usage,
    egress,
    diskGauge,
    defaults,
  };
}
