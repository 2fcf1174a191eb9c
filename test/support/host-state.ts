// What one instance has on the host, read straight from the kernel and the tools (not from
// burrow's own bookkeeping), so tests can prove that nothing is left behind.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { BurrowConfig } from '@burrow/server';

export interface HostState {
  mounts: string[];
  subvolumes: string[];
  netns: string[];
  containers: string[];
  rows: string[];
  cgroups: string[];
}

export function hostState(config: BurrowConfig): HostState {
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const sandboxesDir = join(config.home, 'sandboxes');
  const mounts = mountinfo.map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(sandboxesDir));

  const poolSandboxes = join(config.pool.mountpoint, 'sandboxes');
  const subvolumes = safeReaddir(poolSandboxes).filter((e) => statSync(join(poolSandboxes, e)).ino === 256);

  const prefix = `burrow-${config.instanceTag}-`;
  const netns = safeReaddir('/var/run/netns').filter((n) => n.startsWith(prefix));

  const containers: string[] = [];
  for (const [binary, dir] of [['runsc', 'gvisor'], ['runc', 'runc']] as const) {
    const root = join(config.home, 'run', dir);
    const out = execFileSync(binary, ['--root', root, 'list', '--format', 'json'], { encoding: 'utf8' });
    for (const c of (JSON.parse(out || 'null') ?? []) as Array<{ id: string }>) containers.push(`${dir}:${c.id}`);
  }

  const db = new Database(join(config.home, 'burrow.db'), { readonly: true });
  const rows = (db.prepare('SELECT name FROM sandboxes').all() as Array<{ name: string }>).map((r) => r.name);
  db.close();

  const cgroups = safeReaddir('/sys/fs/cgroup/memory').filter((e) => e.startsWith(prefix));
  return { mounts, subvolumes, netns, containers, rows, cgroups };
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
