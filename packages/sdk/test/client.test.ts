import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BurrowClient } from '../src/client.js';
import { BurrowConnectionError, BurrowError } from '../src/errors.js';
import { FakeBurrow } from './fake-burrow.js';

describe('BurrowClient', () => {
  let fake: FakeBurrow;
  let client: BurrowClient;
  beforeEach(async () => {
    fake = await FakeBurrow.start();
    client = new BurrowClient({ baseURL: fake.url, token: fake.token });
  });
  afterEach(() => fake.close());

  it('creates a sandbox with POST /v1/sprites and the bearer token, and returns its handle', async () => {
    const sandbox = await client.createSandbox('dev', {
      runtime: 'runc',
      image: 'minimal',
      config: { cpus: 2, ram_mb: 1024 },
      environment: { FOO_BAR: 'baz' },
    });
    expect(sandbox.name).toBe('dev');
    expect(sandbox.info).toMatchObject({ name: 'dev', runtime: 'runc', image: 'minimal', config: { cpus: 2, ram_mb: 1024 } });
    const [request] = fake.requests;
    expect(request?.method).toBe('POST');
    expect(request?.headers.authorization).toBe(`Bearer ${fake.token}`);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request?.body ?? '')).toEqual({
      name: 'dev',
      runtime: 'runc',
      image: 'minimal',
      config: { cpus: 2, ram_mb: 1024 },
      environment: { FOO_BAR: 'baz' },
    });
  });

  it('holds create to the 201 the Sprites SDKs require', async () => {
    fake.override = () => ({ status: 200, body: JSON.stringify({ name: 'dev' }) });
    await expect(client.createSandbox('dev')).rejects.toThrow(/status 200; expected 201/);
  });

  it('turns a flat error body into a BurrowError with its code', async () => {
    await client.createSandbox('dev');
    const err = await client.createSandbox('dev').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BurrowError);
    expect(err).toMatchObject({ status: 409, code: 'sandbox_exists', message: "sandbox 'dev' already exists" });
  });

  it('uses a body that is not JSON as the message', async () => {
    fake.override = () => ({ status: 502, body: 'upstream is down', headers: { 'Content-Type': 'text/plain' } });
    await expect(client.getSandbox('dev')).rejects.toMatchObject({ status: 502, code: 'internal', message: 'upstream is down' });
  });

  it('gets a sandbox, and rejects with sandbox_not_found for an unknown one', async () => {
    fake.addSprite('dev');
    const sandbox = await client.getSandbox('dev');
    expect(sandbox.info?.status).toBe('running');
    await expect(client.getSandbox('nope')).rejects.toMatchObject({ status: 404, code: 'sandbox_not_found' });
  });

  it('percent-encodes names in paths', async () => {
    await client.getSandbox('a/b c').catch(() => undefined);
    expect(fake.requests[0]?.url.pathname).toBe('/v1/sprites/a%2Fb%20c');
  });

  it('makes a handle without a request', () => {
    expect(client.sandbox('dev').name).toBe('dev');
    expect(fake.requests).toHaveLength(0);
  });

  it('lists every page, 50 at a time, with the prefix', async () => {
    for (const name of ['app-1', 'app-2', 'app-3', 'app-4', 'app-5', 'other']) fake.addSprite(name);
    const sprites = await client.listSandboxes({ prefix: 'app-' });
    expect(sprites.map((s) => s.name)).toEqual(['app-1', 'app-2', 'app-3', 'app-4', 'app-5']);
    expect(fake.requests.map((r) => r.url.search)).toEqual([
      '?max_results=50&prefix=app-',
      '?max_results=50&prefix=app-&continuation_token=2',
      '?max_results=50&prefix=app-&continuation_token=4',
    ]);
  });

  it('stops paging when the continuation token is empty even if has_more is set', async () => {
    fake.override = () => ({ status: 200, body: JSON.stringify({ sprites: [], has_more: true, next_continuation_token: '' }) });
    expect(await client.listSandboxes()).toEqual([]);
    expect(fake.requests).toHaveLength(1);
  });

  it('deletes a sandbox, after which get fails', async () => {
    fake.addSprite('dev');
    await client.deleteSandbox('dev');
    expect(fake.requests[0]).toMatchObject({ method: 'DELETE' });
    await expect(client.getSandbox('dev')).rejects.toMatchObject({ code: 'sandbox_not_found' });
    await expect(client.sandbox('dev').delete()).rejects.toMatchObject({ code: 'sandbox_not_found' });
  });

  it('reports a bad token as unauthorized', async () => {
    const stranger = new BurrowClient({ baseURL: fake.url, token: 'wrong' });
    await expect(stranger.listSandboxes()).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('tells "nothing is listening" apart from API errors', async () => {
    const url = fake.url;
    await fake.close();
    const err = await new BurrowClient({ baseURL: url, token: 't' }).listSandboxes().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BurrowConnectionError);
    expect(err).toMatchObject({ baseURL: url, message: `cannot reach burrow at ${url} (ECONNREFUSED)` });
    fake = await FakeBurrow.start();
  });
});
