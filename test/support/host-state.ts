// What one instance has on the host, read straight from the kernel and the tools (not from
// burrow's own bookkeeping), so tests can prove that nothing is left behind.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { BurrowConfig } from '@burrow/server';

export interface HostState {
  mounts: string[];
  subvolumes: string[];
  /** Checkpoint snapshots, as `<sandboxId>/<checkpointId>`. */
  snapshots: string[];
  netns: string[];
  containers: string[];
  rows: string[];
  cgroups: string[];
  /** Host ends of veth pairs. */
  links: string[];
  /** Per-sandbox pieces of the instance's nftables table: chains, sets, map elements. */
  rules: string[];
  /** Address allocations in the database. */
  addresses: string[];
}

export function hostState(config: BurrowConfig): HostState {
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const sandboxesDir = join(config.home, 'sandboxes');
  const mounts = mountinfo.map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(sandboxesDir));

  const poolSandboxes = join(config.pool.mountpoint, 'sandboxes');
  const subvolumes = safeReaddir(poolSandboxes).filter((e) => statSync(join(poolSandboxes, e)).ino === 256);
  const poolCheckpoints = join(config.pool.mountpoint, 'checkpoints');
  const snapshots = safeReaddir(poolCheckpoints).flatMap((sandbox) =>
    safeReaddir(join(poolCheckpoints, sandbox))
      .filter((e) => statSync(join(poolCheckpoints, sandbox, e)).ino === 256)
      .map((e) => `${sandbox}/${e}`),
  );

  const prefix = `burrow-${config.instanceTag}-`;
  const netns = safeReaddir('/var/run/netns').filter((n) => n.startsWith(prefix));

  const containers: string[] = [];
  for (const [binary, dir] of [['runsc', 'gvisor'], ['runc', 'runc']] as const) {
    const root = join(config.home, 'run', dir);
    const out = execFileSync(binary, ['--root', root, 'list', '--format', 'json'], { encoding: 'utf8' });
    for (const c of (JSON.parse(out || 'null') ?? []) as Array<{ id: string }>) containers.push(`${dir}:${c.id}`);
  }
  // A VM's state directory (sockets, pid, cgroup) lives as long as its machine may.
  for (const id of safeReaddir(join(config.home, 'run', 'vm'))) containers.push(`vm:${id}`);

  // A purged instance has no database left, so no rows either.
  const dbFile = join(config.home, 'burrow.db');
  let rows: string[] = [];
  let addresses: string[] = [];
  if (existsSync(dbFile)) {
    const db = new Database(dbFile, { readonly: true });
    rows = (db.prepare('SELECT name FROM sandboxes').all() as Array<{ name: string }>).map((r) => r.name);
    addresses = (db.prepare('SELECT slot FROM sandbox_networks').all() as Array<{ slot: number }>).map((r) => String(r.slot));
    db.close();
  }

  const cgroups = safeReaddir('/sys/fs/cgroup/memory').filter((e) => e.startsWith(prefix));
  const links = safeReaddir('/sys/class/net').filter((n) => n.startsWith(`bw${config.instanceTag}`));
  return { mounts, subvolumes, snapshots, netns, containers, rows, cgroups, links, rules: firewallRules(config), addresses };
}

/** Chains, sets and map elements that belong to single sandboxes in the instance's table. */
export function firewallRules(config: BurrowConfig): string[] {
  const table = `burrow-${config.instanceTag}`;
  let text: string;
  try {
    text = execFileSync('nft', ['-j', 'list', 'table', 'inet', table], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return [];
  }
  const items = (JSON.parse(text) as { nftables: Array<Record<string, { name?: string; elem?: unknown[] }>> }).nftables;
  const out: string[] = [];
  for (const item of items) {
    if (item.chain?.name?.startsWith('sb_') || item.chain?.name?.startsWith('pre_')) out.push(`chain ${item.chain.name}`);
    if (item.set?.name?.startsWith('allow_')) out.push(`set ${item.set.name}`);
    if (item.map?.name === 'sandboxes') for (const e of item.map.elem ?? []) out.push(`element ${JSON.stringify(e)}`);
  }
  return out;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Checkpoint rows of an instance as `<sandboxId>/<checkpointId> <status>`, and pending restores. */
export function checkpointRows(config: BurrowConfig): { rows: string[]; restores: number } {
  const db = new Database(join(config.home, 'burrow.db'), { readonly: true });
  try {
    const rows = (db.prepare('SELECT sandbox_id, id, status FROM checkpoints').all() as Array<{ sandbox_id: string; id: string; status: string }>).map(
      (r) => `${r.sandbox_id}/${r.id} ${r.status}`,
    );
    const restores = (db.prepare('SELECT COUNT(*) AS n FROM checkpoint_restores').get() as { n: number }).n;
    return { rows, restores };
  } finally {
    db.close();
  }
}

/** Processes whose command line names `needle` (their pids): what a test must leave none of. */
export function processesNaming(needle: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(needle) && !line.includes('ps -eo'))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

/** The pids of the QEMU processes of the instance at `home`: its vm sandboxes' machines. */
export function machinesOf(home: string): number[] {
  return processesNaming(home).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('qemu-system-x86_64\0');
    } catch {
      return false; // gone meanwhile
    }
  });
}
