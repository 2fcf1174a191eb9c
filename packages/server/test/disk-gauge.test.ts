// The disk gauge with a fake pool below it: the file `df` inside reads, and one disk_full event
// per time the disk fills up.
import { access, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskGauge } from '../src/core/disk-gauge.js';
import type { SandboxRecord } from '../src/db/sandboxes.js';

const GIB = 2 ** 30;
let dir = '';

afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function gauge() {
  dir = await mkdtemp(join(tmpdir(), 'disk-gauge-'));
  await mkdir(join(dir, 'sb1'));
  const record = { id: 'sb1', name: 'dev', status: 'running', storageGb: 1 } as SandboxRecord;
  const usage = { bytes: 0 };
  const events: string[] = [];
  const g = new DiskGauge({
    sandboxes: { all: () => [record] },
    disks: { hostDir: (id) => join(dir, id), liveUsage: async () => new Map([['sb1', usage.bytes]]) },
    events: { record: (_sandbox, type) => events.push(type) },
    intervalMs: 1000,
    log: () => {},
  });
  return { g, usage, events, sizeFile: join(dir, 'sb1', 'disk', 'size') };
}

describe('the disk gauge', () => {
  it('publishes one sandbox from a boot and a refresh at once without failing either', async () => {
    const { g, usage, sizeFile } = await gauge();
    usage.bytes = 5 << 20;
    const boot = g.hooks().bootMounts({ id: 'sb1', storageGb: 1 } as SandboxRecord, '');
    await Promise.all([boot, g.refresh(), g.refresh(), boot]);
    expect(await readFile(sizeFile, 'utf8')).toMatch(new RegExp(`^${GIB} \\d+\n$`));
    expect((await readdir(join(dir, 'sb1', 'disk'))).sort()).toEqual(['size']);
  });

  it('does not make the directory of a sandbox destroyed while it refreshes', async () => {
    const { g } = await gauge();
    await g.refresh();
    await rm(join(dir, 'sb1'), { recursive: true });
    await g.refresh();
    await expect(access(join(dir, 'sb1'))).rejects.toThrow(/ENOENT/);
  });

  it('publishes the limit and the use for df, and reports a full disk once per episode', async () => {
    const { g, usage, events, sizeFile } = await gauge();
    usage.bytes = 100 << 20;
    await g.refresh();
    expect(await readFile(sizeFile, 'utf8')).toBe(`${GIB} ${100 << 20}\n`);
    expect(events).toEqual([]);
    usage.bytes = GIB - (1 << 20);
    await g.refresh();
    await g.refresh();
    expect(events).toEqual(['disk_full']);
    usage.bytes = GIB / 2;
    await g.refresh();
    usage.bytes = GIB;
    await g.refresh();
    expect(events).toEqual(['disk_full', 'disk_full']);
    expect(await readFile(sizeFile, 'utf8')).toBe(`${GIB} ${GIB}\n`);
  });
});
