// Checkpoints end to end against a real `burrow serve`: read-only btrfs snapshots of a gVisor
// (and a runc) sandbox's disk, restore, undo through the automatic checkpoint, fork, sizes from
// quota groups, the read-only views inside the sandbox, bad input, and nothing left behind.
import { beforeAll, describe, expect, it } from 'vitest';
import type { BurrowClient, CheckpointEvent, Sandbox } from '@burrow/sdk';
import { sandboxName } from '../support/instance.js';
import { useInstance } from '../support/use-instance.js';
import { hostState } from '../support/host-state.js';

const burrow = useInstance();
let client: BurrowClient;
const name = sandboxName('cp');
const forkName = sandboxName('cp-fork');
const runcName = sandboxName('cp-runc');
const EMPTY = { mounts: [], subvolumes: [], snapshots: [], netns: [], containers: [], rows: [], cgroups: [], links: [], rules: [], addresses: [] };

beforeAll(async () => {
  client = burrow.client();
  await client.createSandbox(name);
});

async function sh(sandbox: Sandbox, script: string): Promise<string> {
  const r = await sandbox.exec('sh', ['-c', script]);
  if (r.exitCode !== 0) throw new Error(`'${script}' exited ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

async function call(method: string, path: string, body?: string) {
  const response = await fetch(`${burrow.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${burrow.token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body,
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // NDJSON or empty
  }
  return { status: response.status, type: response.headers.get('content-type') ?? '', text, body: parsed };
}

describe('checkpoints of a gVisor sandbox', () => {
  it('has v0, taken right after create, which it stands on', async () => {
    const list = await client.sandbox(name).listCheckpoints();
    expect(list).toEqual([
      {
        id: 'v0',
        create_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        comment: '',
        history: [],
        is_auto: false,
        memory: false,
        source_id: null,
        health: '',
        size_bytes: expect.any(Number),
      },
    ]);
    const r = await call('DELETE', `/v1/sprites/${name}/checkpoints/v0`);
    expect(r.status).toBe(409);
    expect(r.body).toEqual({ error: 'checkpoint_in_use', message: expect.stringContaining('v0') });
  });

  it('streams NDJSON progress, with the freeze time, and completes only once the checkpoint is listed', async () => {
    const sandbox = client.sandbox(name);
    // Written just before the checkpoint and never synced by the user: gVisor still holds it.
    await sh(sandbox, 'echo original > ~/keep.txt; mkdir -p ~/big; for i in $(seq 1 200); do echo $i > ~/big/f$i; done; ' +
      'head -c 5M /dev/urandom > ~/big/blob; md5sum ~/big/blob > ~/blob.md5; echo fresh > ~/fresh');
    const r = await call('POST', `/v1/sprites/${name}/checkpoint`, JSON.stringify({ comment: 'before the damage' }));
    expect(r.status).toBe(200);
    expect(r.type).toContain('application/x-ndjson');
    const events = r.text.trim().split('\n').map((l) => JSON.parse(l) as CheckpointEvent);
    expect(events.at(-1)).toEqual({ type: 'complete', data: 'Checkpoint v1 created', time: expect.any(String) });
    expect(events.slice(0, -1).every((e) => e.type === 'info')).toBe(true);
    expect(events.some((e) => e.type === 'info' && /frozen for \d+ ms/.test(e.data))).toBe(true);
    const v1 = await sandbox.getCheckpoint('v1');
    expect(v1).toMatchObject({ id: 'v1', comment: 'before the damage', source_id: 'v0', history: ['v0'], is_auto: false });
  });

  it('restores the disk to the checkpoint: changed, deleted and new files are as they were', async () => {
    const sandbox = client.sandbox(name);
    await sh(sandbox, 'echo changed > ~/keep.txt; rm -rf ~/big ~/fresh; echo new > ~/after.txt');
    const events: CheckpointEvent[] = [];
    await sandbox.restoreCheckpoint('v1', { onEvent: (e) => events.push(e) });
    expect(events.at(-1)?.type).toBe('complete');
    // complete came after the sandbox runs again: the next exec sees the restored disk.
    const out = await sh(sandbox, 'cat ~/keep.txt ~/fresh; ls ~/big | wc -l; md5sum -c --quiet ~/blob.md5 && echo blob ok; test -e ~/after.txt || echo no after');
    expect(out).toBe('original\nfresh\n201\nblob ok\nno after\n');
    expect((await client.getSandbox(name)).info?.status).toBe('running');
  });

  it('can undo the restore through the automatic checkpoint taken before it', async () => {
    const sandbox = client.sandbox(name);
    expect((await sandbox.listCheckpoints()).map((c) => c.id)).toEqual(['v1', 'v0']);
    const all = await sandbox.listCheckpoints({ includeAuto: true });
    expect(all[0]).toMatchObject({ id: 'auto-1', is_auto: true, source_id: 'v1', comment: 'before restoring v1' });
    await sandbox.restoreCheckpoint('auto-1');
    expect(await sh(sandbox, 'cat ~/keep.txt ~/after.txt; test -e ~/big || echo no big')).toBe('changed\nnew\nno big\n');
    expect((await sandbox.listCheckpoints({ includeAuto: true })).map((c) => c.id)).toEqual(['auto-2', 'auto-1', 'v1', 'v0']);
  });

  it('forks an independent sandbox from a checkpoint, with its own id, files and checkpoints', async () => {
    const original = client.sandbox(name);
    const fork = await original.fork('v1', forkName);
    expect(fork.info).toMatchObject({ name: forkName, status: 'running', runtime: 'gvisor' });
    expect(fork.info?.id).not.toBe((await client.getSandbox(name)).info?.id);
    expect(await sh(fork, 'cat ~/keep.txt ~/fresh; ls ~/big | wc -l; hostname')).toBe(`original\nfresh\n201\n${forkName}\n`);
    await sh(fork, 'echo forked > ~/keep.txt; touch ~/only-in-fork');
    expect(await sh(original, 'cat ~/keep.txt; test -e ~/only-in-fork || echo not here')).toBe('changed\nnot here\n');
    expect((await fork.listCheckpoints()).map((c) => c.id)).toEqual(['v0']);
    expect(await sh(fork, 'cat /.burrow/checkpoints/v0/home/user/keep.txt')).toBe('original\n');
  });

  it('reports the bytes only a checkpoint holds, growing as the sandbox replaces its data', async () => {
    const sandbox = client.sandbox(name);
    await sh(sandbox, 'head -c 32M /dev/urandom > ~/data');
    const v2 = await sandbox.createCheckpoint('with data');
    expect(v2.id).toBe('v2');
    // Everything v2 has, the live disk shares.
    expect(v2.size_bytes).toBeLessThan(4 * 2 ** 20);
    await sh(sandbox, 'rm ~/data; head -c 32M /dev/urandom > ~/data; sync');
    const after = await sandbox.getCheckpoint('v2');
    expect(after.size_bytes).toBeGreaterThanOrEqual(32 * 2 ** 20);
  });

  it('shows the newest checkpoints read-only at /.burrow/checkpoints, also ones taken while it runs', async () => {
    const sandbox = client.sandbox(name);
    expect(await sh(sandbox, 'ls /.burrow/checkpoints')).toBe('v0\nv1\nv2\n');
    expect(await sh(sandbox, 'cat /.burrow/checkpoints/v1/home/user/keep.txt; ls /.burrow/checkpoints/v1/home/user/big | wc -l')).toBe(
      'original\n201\n',
    );
    // The image's files are there too: a view is the whole disk as it was.
    expect(await sh(sandbox, 'test -x /.burrow/checkpoints/v0/usr/bin/git && echo ok')).toBe('ok\n');
    for (const write of [
      'echo x > /.burrow/checkpoints/v1/home/user/keep.txt',
      'touch /.burrow/checkpoints/v1/new',
      'rm /.burrow/checkpoints/v1/home/user/keep.txt',
      'mkdir /.burrow/checkpoints/v9',
    ]) {
      const r = await sandbox.exec('sudo', ['sh', '-c', write]);
      expect(r.exitCode, write).not.toBe(0);
    }
    expect(await sh(sandbox, 'cat /.burrow/checkpoints/v1/home/user/keep.txt')).toBe('original\n');
  });

  it('deletes a checkpoint, and refuses to delete the one it stands on', async () => {
    const sandbox = client.sandbox(name);
    await expect(sandbox.deleteCheckpoint('v2')).rejects.toMatchObject({ status: 409, code: 'checkpoint_in_use' });
    // v2 was taken on the state restored from auto-1, which was kept before restoring v1.
    expect((await sandbox.getCheckpoint('v2')).history).toEqual(['auto-1', 'v1', 'v0']);
    expect((await sandbox.listCheckpoints({ history: 'v1' })).map((c) => c.id)).toEqual(['v2', 'v1']);
    await sandbox.deleteCheckpoint('v1');
    await expect(sandbox.getCheckpoint('v1')).rejects.toMatchObject({ status: 404, code: 'checkpoint_not_found' });
    expect((await sandbox.listCheckpoints()).map((c) => c.id)).toEqual(['v2', 'v0']);
    expect(hostState(burrow.config).snapshots.filter((s) => s.endsWith('/v1'))).toHaveLength(0);
    expect(await sh(sandbox, 'ls /.burrow/checkpoints')).toBe('v0\nv2\n');
    // Ids are never reused.
    expect((await sandbox.createCheckpoint()).id).toBe('v3');
  });

  it('checkpoints a warm sandbox as it was when it went to sleep, and leaves it warm', async () => {
    const sandbox = client.sandbox(name);
    await sh(sandbox, 'echo before-sleep > ~/warm.txt');
    expect((await sandbox.sleep()).status).toBe('warm');
    const checkpoint = await sandbox.createCheckpoint('while warm');
    expect((await client.getSandbox(name)).info?.status).toBe('warm');
    expect(await sh(sandbox, `cat /.burrow/checkpoints/${checkpoint.id}/home/user/warm.txt`)).toBe('before-sleep\n');
  });
});

describe('checkpoints of a runc sandbox', () => {
  it('checkpoint, view and restore work the same', async () => {
    const sandbox = await client.createSandbox(runcName, { runtime: 'runc' });
    await sh(sandbox, 'echo runc-original > ~/f');
    const v1 = await sandbox.createCheckpoint();
    expect(await sh(sandbox, 'echo changed > ~/f; cat /.burrow/checkpoints/v1/home/user/f')).toBe('runc-original\n');
    await sandbox.restoreCheckpoint(v1.id);
    expect(await sh(sandbox, 'cat ~/f')).toBe('runc-original\n');
    expect((await sandbox.exec('sudo', ['touch', '/.burrow/checkpoints/v1/x'])).exitCode).not.toBe(0);
  });
});

describe('bad input', () => {
  it('answers 404 for an unknown or malformed checkpoint id, on every route', async () => {
    for (const [method, path, body] of [
      ['GET', `/v1/sprites/${name}/checkpoints/v99`],
      ['GET', `/v1/sprites/${name}/checkpoints/..%2Fetc`],
      ['DELETE', `/v1/sprites/${name}/checkpoints/v99`],
      ['POST', `/v1/sprites/${name}/checkpoints/v99/restore`],
      ['POST', `/v1/sprites/${name}/checkpoints/nope/fork`, JSON.stringify({ name: sandboxName('never') })],
    ] as const) {
      const r = await call(method, path, body);
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body).toEqual({ error: 'checkpoint_not_found', message: expect.any(String) });
    }
    const unknownSandbox = await call('GET', `/v1/sprites/${sandboxName('missing')}/checkpoints`);
    expect(unknownSandbox.status).toBe(404);
  });

  it('refuses a comment over 1024 characters and unknown fields with 400', async () => {
    const long = await call('POST', `/v1/sprites/${name}/checkpoint`, JSON.stringify({ comment: 'x'.repeat(1025) }));
    expect(long.status).toBe(400);
    expect(long.body).toMatchObject({ error: 'invalid_request' });
    const unknown = await call('POST', `/v1/sprites/${name}/checkpoint`, JSON.stringify({ comment: 'a', colour: 'red' }));
    expect(unknown).toMatchObject({ status: 400, body: { error: 'unknown_field' } });
    const forkUnknown = await call('POST', `/v1/sprites/${name}/checkpoints/v0/fork`, JSON.stringify({ name: sandboxName('x'), ram: 1 }));
    expect(forkUnknown).toMatchObject({ status: 400, body: { error: 'unknown_field' } });
  });

  it('refuses a fork to an existing name with 409 and to an invalid name with 400', async () => {
    const existing = await call('POST', `/v1/sprites/${name}/checkpoints/v0/fork`, JSON.stringify({ name: forkName }));
    expect(existing).toMatchObject({ status: 409, body: { error: 'sandbox_exists' } });
    const invalid = await call('POST', `/v1/sprites/${name}/checkpoints/v0/fork`, JSON.stringify({ name: 'Not_Valid' }));
    expect(invalid).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });

  it('refuses restore, fork and checkpoint of a sandbox being destroyed with 409', async () => {
    const doomed = sandboxName('cp-doomed');
    await client.createSandbox(doomed);
    const destroying = client.deleteSandbox(doomed);
    const deadline = Date.now() + 10_000;
    while (((await call('GET', `/v1/sprites/${doomed}`)).body as { status?: string }).status !== 'destroying' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const restore = await call('POST', `/v1/sprites/${doomed}/checkpoints/v0/restore`);
    const fork = await call('POST', `/v1/sprites/${doomed}/checkpoints/v0/fork`, JSON.stringify({ name: sandboxName('cp-late') }));
    const create = await call('POST', `/v1/sprites/${doomed}/checkpoint`, '{}');
    await destroying;
    for (const r of [restore, fork, create]) expect(r).toMatchObject({ status: 409, body: { error: 'sandbox_busy' } });
  });
});

describe('automatic checkpoints on a timer', () => {
  it('are taken every BURROW_AUTO_CHECKPOINT_INTERVAL and pruned to BURROW_AUTO_CHECKPOINT_KEEP', async () => {
    await burrow.stop();
    await burrow.start({ BURROW_AUTO_CHECKPOINT_INTERVAL: '1s', BURROW_AUTO_CHECKPOINT_KEEP: '2' });
    const sandbox = burrow.client().sandbox(name);
    const visible = (await sandbox.listCheckpoints()).map((c) => c.id);
    let autos: string[] = [];
    const deadline = Date.now() + 30_000;
    // auto-1 and auto-2 came from the restores above; the timer adds auto-3, auto-4, ...
    while (Date.now() < deadline) {
      autos = (await sandbox.listCheckpoints({ includeAuto: true })).filter((c) => c.is_auto).map((c) => c.id);
      if (autos.some((id) => Number(id.slice(5)) >= 5)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(autos.length).toBeLessThanOrEqual(2);
    expect(autos.some((id) => Number(id.slice(5)) >= 5)).toBe(true);
    // Hidden by default, and they do not move what the sandbox stands on.
    expect((await sandbox.listCheckpoints()).map((c) => c.id)).toEqual(visible);
    await burrow.stop();
    await burrow.start();
    client = burrow.client();
  });
});

describe('destroy', () => {
  it('removes every checkpoint snapshot and view with the sandbox', async () => {
    expect(hostState(burrow.config).snapshots.length).toBeGreaterThan(4);
    for (const n of [name, forkName, runcName]) await client.deleteSandbox(n);
    expect(hostState(burrow.config)).toEqual(EMPTY);
  });
});
