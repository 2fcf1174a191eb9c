import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BurrowClient } from '../src/client.js';
import { readEvents } from '../src/ndjson.js';
import type { CheckpointEvent } from '@burrow/protocol';
import { FakeBurrow } from './fake-burrow.js';

describe('checkpoints through the SDK', () => {
  let fake: FakeBurrow;
  let client: BurrowClient;
  beforeEach(async () => {
    fake = await FakeBurrow.start();
    client = new BurrowClient({ baseURL: fake.url, token: fake.token });
    fake.addSprite('dev');
  });
  afterEach(() => fake.close());

  it('creates a checkpoint from the NDJSON stream, passing progress on, and resolves with it', async () => {
    const events: CheckpointEvent[] = [];
    const checkpoint = await client.sandbox('dev').createCheckpoint('before the refactor', { onEvent: (e) => events.push(e) });
    expect(checkpoint).toMatchObject({ id: 'v1', comment: 'before the refactor', source_id: 'v0', is_auto: false });
    expect(events.map((e) => e.type)).toEqual(['info', 'complete']);
    const post = fake.requests.find((r) => r.method === 'POST');
    expect(post?.url.pathname).toBe('/v1/sprites/dev/checkpoint');
    expect(JSON.parse(post?.body ?? '')).toEqual({ comment: 'before the refactor' });
  });

  it('sends {} when there is no comment', async () => {
    await client.sandbox('dev').createCheckpoint();
    expect(fake.requests.find((r) => r.method === 'POST')?.body).toBe('{}');
  });

  it('lists checkpoints, hiding automatic ones unless asked', async () => {
    const sandbox = client.sandbox('dev');
    await sandbox.restoreCheckpoint('v0');
    expect((await sandbox.listCheckpoints()).map((c) => c.id)).toEqual(['v0']);
    expect((await sandbox.listCheckpoints({ includeAuto: true })).map((c) => c.id)).toEqual(['auto-1', 'v0']);
    expect(fake.requests.at(-1)?.url.search).toBe('?includeAuto=true');
  });

  it('gets one checkpoint, and rejects an unknown id with checkpoint_not_found', async () => {
    const sandbox = client.sandbox('dev');
    expect(await sandbox.getCheckpoint('v0')).toMatchObject({ id: 'v0', size_bytes: 16384 });
    await expect(sandbox.getCheckpoint('v9')).rejects.toMatchObject({ status: 404, code: 'checkpoint_not_found' });
  });

  it('restores with POST .../restore and no body, and rejects when the stream reports an error', async () => {
    const sandbox = client.sandbox('dev');
    await sandbox.restoreCheckpoint('v0');
    const restore = fake.requests.find((r) => r.url.pathname.endsWith('/restore'));
    expect(restore).toMatchObject({ method: 'POST', body: '' });
    expect(restore?.headers['content-type']).toBeUndefined();
    fake.checkpoints.get('dev')!.push({ ...(await sandbox.getCheckpoint('v0')), id: 'v666' });
    await expect(sandbox.restoreCheckpoint('v666')).rejects.toThrow(/the disk is on fire/);
  });

  it('rejects with the code and status of an error event that carries a code', async () => {
    const lines = [
      { type: 'info', data: 'deleted automatic checkpoint auto-1', time: '' },
      { type: 'error', error: 'the checkpoints hold their budget', code: 'quota_exceeded', time: '' },
    ];
    const response = new Response(lines.map((l) => JSON.stringify(l)).join('\n'));
    await expect(readEvents(response, 'checkpoint of dev')).rejects.toMatchObject({
      code: 'quota_exceeded',
      status: 409,
      message: 'checkpoint of dev failed: the checkpoints hold their budget',
    });
  });

  it('deletes a checkpoint, and surfaces the refusal to delete the current one', async () => {
    const sandbox = client.sandbox('dev');
    await sandbox.createCheckpoint();
    await sandbox.createCheckpoint();
    await sandbox.deleteCheckpoint('v1');
    expect((await sandbox.listCheckpoints()).map((c) => c.id)).toEqual(['v2', 'v0']);
    await expect(sandbox.deleteCheckpoint('v2')).rejects.toMatchObject({ status: 409, code: 'checkpoint_in_use' });
  });

  it('forks into a new sandbox handle, and rejects an existing name with 409', async () => {
    const fork = await client.sandbox('dev').fork('v0', 'dev-2');
    expect(fork.name).toBe('dev-2');
    expect(fork.info?.name).toBe('dev-2');
    expect(JSON.parse(fake.requests.at(-1)?.body ?? '')).toEqual({ name: 'dev-2' });
    await expect(client.sandbox('dev').fork('v0', 'dev-2')).rejects.toMatchObject({ status: 409, code: 'sandbox_exists' });
  });

  it('percent-encodes checkpoint ids in paths', async () => {
    await client.sandbox('dev').getCheckpoint('a/b').catch(() => undefined);
    expect(fake.requests.at(-1)?.url.pathname).toBe('/v1/sprites/dev/checkpoints/a%2Fb');
  });
});
