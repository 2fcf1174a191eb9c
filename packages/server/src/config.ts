// Server configuration: environment variables, over an optional JSON file, over defaults.
// Everything an instance owns on the host is derived from BURROW_HOME, so several instances with
// different homes (and listeners) run side by side without touching each other.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { IMAGE_NAMES, RUNTIMES, type ImageName, type Runtime } from '@burrow/protocol';
import { z } from 'zod';

export { RUNTIMES };
export type RuntimeKind = Runtime;
export const IMAGES = IMAGE_NAMES;
export type { ImageName };

const fileSchema = z
  .object({
    listen: z.string(),
    pool: z.string(),
    poolSize: z.string(),
    imageCache: z.string(),
    image: z.enum(IMAGES),
    runtime: z.enum(RUNTIMES),
    runscPlatform: z.enum(['auto', 'ptrace', 'kvm', 'systrap']),
    defaultCpus: z.number().positive(),
    defaultRamMb: z.number().int().min(64),
    defaultStorageGb: z.number().int().min(1),
    defaultPidsLimit: z.number().int().min(16),
    runningLimit: z.number().int().min(1),
    warmLimit: z.number().int().min(0),
    capacityWait: z.string(),
    priceCpuHour: z.number().min(0),
    priceRamGbHour: z.number().min(0),
    priceStorageGbMonth: z.number().min(0),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']),
    meter: z.boolean(),
    runcUserNamespace: z.boolean(),
    meterDiskInterval: z.string(),
    aptMirror: z.string(),
    autoCheckpointInterval: z.string(),
    autoCheckpointKeep: z.number().int().min(1),
    checkpointBudget: z.number().min(1),
    poolReserve: z.string(),
    netPool: z.string(),
    dnsUpstream: z.string(),
    urlDomain: z.string(),
    warmAfter: z.string(),
    coldAfter: z.string(),
  })
  .partial()
  .strict();

export interface BurrowConfig {
  /** State directory: database, admin token, bundles, mounts, and (by default) the pool file. */
  home: string;
  listen: { host: string; port: number };
  pool:
    | { kind: 'loop'; file: string; sizeBytes: number; mountpoint: string }
    | { kind: 'dir'; mountpoint: string };
  /** Built images (tarballs keyed by recipe hash), shared by every instance on the machine. */
  imageCache: string;
  defaultImage: ImageName;
  defaultRuntime: RuntimeKind;
  runscPlatform: 'auto' | 'ptrace' | 'kvm' | 'systrap';
  /** Limits of a sandbox created without them. */
  defaults: { cpus: number; ramMb: number; storageGb: number; pidsLimit: number };
  /** Org-wide: sandboxes running and warm at once; over it create answers 429 or waits. */
  limits: { running: number; warm: number; capacityWaitMs: number };
  /** Dollars, for usage cost estimates. */
  prices: { cpuHour: number; ramGbHour: number; storageGbMonth: number };
  /** Per-second metering of CPU, memory and disk (off only to measure what it costs). */
  meter: boolean;
  /**
   * Each runc sandbox in a user namespace of its own (off only to measure what it costs: root
   * inside is then root on the host). A disk moves between the two at its next boot.
   */
  runcUserNamespace: boolean;
  /** How often disk usage is read from btrfs quota groups for metering. */
  meterDiskIntervalMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** Debian mirror for image builds; unset means the host's apt sources. */
  aptMirror: string | undefined;
  /** Short tag unique to this home: prefixes host-global names (netns, cgroups, containers). */
  instanceTag: string;
  /** Automatic checkpoints of running sandboxes: every `intervalMs` (null: off), `keep` kept. */
  autoCheckpoint: { intervalMs: number | null; keep: number };
  /** The space a sandbox's checkpoints may hold, as a multiple of its `storage_gb`. */
  checkpointBudget: number;
  /**
   * Free bytes of the pool below which no checkpoint, sandbox or fork is made; null: 5% of the
   * pool, at least 1 GiB.
   */
  poolReserveBytes: number | null;
  network: {
    /** IPv4 CIDR the sandboxes' /30s are cut from. */
    pool: string;
    /** `host` or `host:port` of the DNS server the sandboxes' resolver asks; unset: the host's resolv.conf. */
    dnsUpstream: string | undefined;
    /** Sandbox URLs are `http://<name>.<urlDomain>:<port>/` on the API listener. */
    urlDomain: string;
  };
  egress: {
    /** The egress proxy's port on every address (0: any free port). */
    proxyPort: number;
    /** A PEM file of CAs trusted for upstream certificates besides the usual roots (tests). */
    upstreamCaFile: string | undefined;
  };
  /**
   * Idle sleep: a running sandbox nobody uses goes warm (frozen, memory kept) after `warmAfterMs`,
   * and a warm one goes cold (stopped, disk kept) `coldAfterMs` later; null never. Sandboxes may
   * override both.
   */
  sleep: { warmAfterMs: number | null; coldAfterMs: number | null };
  /** Test-only: the daemon kills itself with SIGKILL when it reaches this named step. */
  crashAt: string | undefined;
  /** Test hook: a sandbox status change the lifecycle table does not allow throws instead of being logged. */
  strictTransitions: boolean;
}

export class ConfigError extends Error {}

function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value) ?? /^()()(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port < 65536)) throw new ConfigError(`BURROW_LISTEN must be HOST:PORT, got '${value}'`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

function parseDomain(value: string): string {
  const domain = value.trim().toLowerCase().replace(/^\*\./, '').replace(/\.$/, '');
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(domain)) {
    throw new ConfigError(`BURROW_URL_DOMAIN must be a domain like localhost or sandboxes.example.com, got '${value}'`);
  }
  return domain;
}

function parsePort(name: string, value: string): number {
  const port = Number(value);
  if (!/^\d{1,5}$/.test(value) || port > 65535) throw new ConfigError(`${name} must be a port number, got '${value}'`);
  return port;
}

export function parseSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i.exec(value.trim());
  if (!m) throw new ConfigError(`size must look like 100G or 512M, got '${value}'`);
  const power = ' KMGT'.indexOf((m[2] || ' ').toUpperCase());
  return Math.floor(Number(m[1]) * 1024 ** power);
}

/** `off`, `0`, a number of seconds, or a duration like `90s`, `10m`, `1h`, `1h30m`. */
export function parseInterval(value: string, name = 'BURROW_AUTO_CHECKPOINT_INTERVAL'): number | null {
  const v = value.trim().toLowerCase();
  if (v === 'off' || v === '0' || v === '') return null;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(v);
  if (!m || !(m[1] || m[2] || m[3])) {
    throw new ConfigError(`${name} must be off, seconds or a duration like 10m, got '${value}'`);
  }
  const ms = (Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0)) * 1000;
  return ms > 0 ? ms : null;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): BurrowConfig {
  const home = resolve(env.BURROW_HOME || '/var/lib/burrow');
  const configFile = env.BURROW_CONFIG || join(home, 'config.json');
  let file: z.infer<typeof fileSchema> = {};
  try {
    file = fileSchema.parse(JSON.parse(readFileSync(configFile, 'utf8')));
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    if (!missing || env.BURROW_CONFIG) throw new ConfigError(`cannot read config file ${configFile}: ${(e as Error).message}`);
  }

  const pick = <T extends string>(name: string, fromFile: T | undefined, fallback: T): string =>
    env[name] || fromFile || fallback;
  const oneOf = <T extends string>(name: string, value: string, allowed: readonly T[]): T => {
    if (!(allowed as readonly string[]).includes(value)) {
      throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got '${value}'`);
    }
    return value as T;
  };

  const poolPath = env.BURROW_POOL || file.pool;
  const pool: BurrowConfig['pool'] = poolPath
    ? { kind: 'dir', mountpoint: resolve(poolPath) }
    : {
        kind: 'loop',
        file: join(home, 'pool.img'),
        sizeBytes: parseSize(pick('BURROW_POOL_SIZE', file.poolSize, '100G')),
        mountpoint: join(home, 'pool'),
      };

  const number = (name: string, fromFile: number | undefined, fallback: number, min = Number.MIN_VALUE): number => {
    const value = env[name] !== undefined && env[name] !== '' ? Number(env[name]) : (fromFile ?? fallback);
    if (!Number.isFinite(value) || value < min) {
      const bound = min === 0 ? 'a non-negative number' : min === Number.MIN_VALUE ? 'a positive number' : `a number of at least ${min}`;
      throw new ConfigError(`${name} must be ${bound}`);
    }
    return value;
  };
  const integer = (name: string, fromFile: number | undefined, fallback: number, min = 1): number => {
    const value = number(name, fromFile, fallback, min);
    if (!Number.isInteger(value)) throw new ConfigError(`${name} must be a whole number`);
    return value;
  };
  const size = (name: string, value: string): number => {
    try {
      return parseSize(value);
    } catch (e) {
      throw new ConfigError(`${name}: ${(e as Error).message}`);
    }
  };
  const flag = (name: string, fromFile: boolean | undefined, fallback: boolean): boolean => {
    const value = env[name];
    if (value === undefined || value === '') return fromFile ?? fallback;
    if (!['true', 'false', '1', '0', 'on', 'off'].includes(value)) throw new ConfigError(`${name} must be on or off`);
    return ['true', '1', 'on'].includes(value);
  };

  return {
    home,
    listen: parseListen(pick('BURROW_LISTEN', file.listen, '127.0.0.1:7070')),
    pool,
    imageCache: resolve(pick('BURROW_IMAGE_CACHE', file.imageCache, '/var/cache/burrow/images')),
    defaultImage: oneOf('BURROW_IMAGE', pick('BURROW_IMAGE', file.image, 'dev'), IMAGES),
    defaultRuntime: oneOf('BURROW_RUNTIME', pick('BURROW_RUNTIME', file.runtime, 'gvisor'), RUNTIMES),
    runscPlatform: oneOf(
      'BURROW_RUNSC_PLATFORM',
      pick('BURROW_RUNSC_PLATFORM', file.runscPlatform, 'auto'),
      ['auto', 'ptrace', 'kvm', 'systrap'] as const,
    ),
    defaults: {
      cpus: number('BURROW_DEFAULT_CPUS', file.defaultCpus, 1),
      ramMb: integer('BURROW_DEFAULT_RAM_MB', file.defaultRamMb, 1024, 128),
      storageGb: integer('BURROW_DEFAULT_STORAGE_GB', file.defaultStorageGb, 10),
      pidsLimit: integer('BURROW_DEFAULT_PIDS_LIMIT', file.defaultPidsLimit, 4096, 16),
    },
    limits: {
      running: integer('BURROW_RUNNING_LIMIT', file.runningLimit, 100),
      warm: integer('BURROW_WARM_LIMIT', file.warmLimit, 100, 0),
      capacityWaitMs: parseInterval(pick('BURROW_CAPACITY_WAIT', file.capacityWait, '60s'), 'BURROW_CAPACITY_WAIT') ?? 0,
    },
    prices: {
      cpuHour: number('BURROW_PRICE_CPU_HOUR', file.priceCpuHour, 0.07, 0),
      ramGbHour: number('BURROW_PRICE_RAM_GB_HOUR', file.priceRamGbHour, 0.04375, 0),
      storageGbMonth: number('BURROW_PRICE_STORAGE_GB_MONTH', file.priceStorageGbMonth, 0.5, 0),
    },
    meter: flag('BURROW_METER', file.meter, true),
    runcUserNamespace: flag('BURROW_RUNC_USERNS', file.runcUserNamespace, true),
    meterDiskIntervalMs:
      parseInterval(pick('BURROW_METER_DISK_INTERVAL', file.meterDiskInterval, '30s'), 'BURROW_METER_DISK_INTERVAL') ?? 30_000,
    logLevel: oneOf(
      'BURROW_LOG_LEVEL',
      pick('BURROW_LOG_LEVEL', file.logLevel, 'info'),
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const,
    ),
    aptMirror: env.BURROW_APT_MIRROR || file.aptMirror,
    autoCheckpoint: {
      intervalMs: parseInterval(pick('BURROW_AUTO_CHECKPOINT_INTERVAL', file.autoCheckpointInterval, 'off'), 'BURROW_AUTO_CHECKPOINT_INTERVAL'),
      keep: number('BURROW_AUTO_CHECKPOINT_KEEP', file.autoCheckpointKeep, 5),
    },
    checkpointBudget: number('BURROW_CHECKPOINT_BUDGET', file.checkpointBudget, 4, 1),
    poolReserveBytes: env.BURROW_POOL_RESERVE || file.poolReserve ? size('BURROW_POOL_RESERVE', pick('BURROW_POOL_RESERVE', file.poolReserve, '')) : null,
    network: {
      pool: pick('BURROW_NET_POOL', file.netPool, '10.222.0.0/16'),
      dnsUpstream: env.BURROW_DNS_UPSTREAM || file.dnsUpstream,
      urlDomain: parseDomain(pick('BURROW_URL_DOMAIN', file.urlDomain, 'localhost')),
    },
    egress: {
      proxyPort: parsePort('BURROW_EGRESS_PORT', env.BURROW_EGRESS_PORT ?? '0'),
      upstreamCaFile: env.BURROW_EGRESS_UPSTREAM_CA || undefined,
    },
    sleep: {
      warmAfterMs: parseInterval(pick('BURROW_WARM_AFTER', file.warmAfter, '30s'), 'BURROW_WARM_AFTER'),
      coldAfterMs: parseInterval(pick('BURROW_COLD_AFTER', file.coldAfter, '10m'), 'BURROW_COLD_AFTER'),
    },
    instanceTag: createHash('sha256').update(home).digest('hex').slice(0, 6),
    crashAt: env.BURROW_CRASH_AT || undefined,
    strictTransitions: flag('BURROW_STRICT_TRANSITIONS', undefined, false),
  };
}

/** Paths inside BURROW_HOME, in one place so that setup, reconciler and purge agree. */
export function homePaths(config: BurrowConfig) {
  return {
    database: join(config.home, 'burrow.db'),
    adminToken: join(config.home, 'admin.token'),
    /** The root key API tokens (macaroons) are minted and verified with. */
    tokenKey: join(config.home, 'token.key'),
    /** The egress proxy's CA, keys, sealed-secret key and the files sandboxes see. */
    egress: join(config.home, 'egress'),
    sandboxes: join(config.home, 'sandboxes'),
    runtimeRoot: (kind: RuntimeKind) => join(config.home, 'run', kind),
  };
}
