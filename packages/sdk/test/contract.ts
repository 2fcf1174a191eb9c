/**
 * The wire contract as the SDK sees it, one suite for any server: the SDK's fake (contract.test.ts,
 * a unit test) and a real `burrow serve` (test/integration/sdk-contract.test.ts). Whatever the
 * fake answers here, the daemon answers too, so the SDK's unit tests test against the real thing.
 */
import { checkpointSchema, killResultSchema, listSpritesResponseSchema, spriteSchema } from '@burrow/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BurrowClient } from '../src/client.js';
import { BurrowError } from '../src/errors.js';

/** A server under test. */
export interface ContractPeer {
  url: string;
  token: string;
  /** A sandbox name of its own for a test (a real daemon may be shared by several). */
  name(label: string): string;
  close(): Promise<void>;
}

async function refusal(promise: Promise<unknown>): Promise<BurrowError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BurrowError);
  return error as BurrowError;
}

export function describeContract(peerName: string, open: () => Promise<ContractPeer>): void {
  describe(`the wire contract, against ${peerName}`, () => {
    let peer: ContractPeer;
    let client: BurrowClient;

    beforeAll(async () => {
      peer = await open();
      client = new BurrowClient({ baseURL: peer.url, token: peer.token });
    });
    afterAll(() => peer?.close());

    it('creates a sandbox, which get and the list then show, in the shapes of the protocol', async () => {
      const name = peer.name('made');
      const made = await client.createSandbox(name);
      expect(made.name).toBe(name);
      const sprite = await made.refresh();
      expect(spriteSchema.parse(sprite)).toMatchObject({ name });
      expect((await client.listSandboxes({ prefix: name })).map((s) => s.name)).toEqual([name]);
      const page = await fetch(`${peer.url}/v1/sprites?prefix=${name}`, { headers: { Authorization: `Bearer ${peer.token}` } });
      expect(listSpritesResponseSchema.parse(await page.json()).sprites.map((s) => s.name)).toEqual([name]);
    });

    it('refuses a name that is not a DNS label (400) and one that is taken (409 sandbox_exists)', async () => {
      expect((await refusal(client.createSandbox('Not_A_Label'))).status).toBe(400);
      const name = peer.name('taken');
      await client.createSandbox(name);
      expect(await refusal(client.createSandbox(name))).toMatchObject({ status: 409, code: 'sandbox_exists' });
    });

    it('answers 404 sandbox_not_found for a sandbox that does not exist', async () => {
      const ghost = client.sandbox(peer.name('ghost'));
      expect(await refusal(ghost.refresh())).toMatchObject({ status: 404, code: 'sandbox_not_found' });
      expect(await refusal(ghost.exec('echo', ['x']))).toMatchObject({ status: 404, code: 'sandbox_not_found' });
    });

    it('answers 401 unauthorized to a bad token, on requests and on upgrades', async () => {
      const stranger = new BurrowClient({ baseURL: peer.url, token: 'not-a-token' });
      expect(await refusal(stranger.listSandboxes())).toMatchObject({ status: 401, code: 'unauthorized' });
      expect(await refusal(stranger.sandbox(peer.name('any')).exec('echo', ['x']))).toMatchObject({ status: 401 });
    });

    it('runs a command: its output, its stdin through to EOF, its exit code', async () => {
      const box = await client.createSandbox(peer.name('exec'));
      expect(await box.exec('echo', ['hello', 'there'])).toMatchObject({ stdout: 'hello there\n', exitCode: 0 });
      const cat = box.spawn('cat', []);
      let out = '';
      cat.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      cat.stderr.resume();
      cat.stdin.end('piped\n');
      expect(await cat.wait()).toBe(0);
      expect(out).toBe('piped\n');
    });

    it('checkpoints: taken newest first, got by id, the current one kept, an older one deleted', async () => {
      const box = await client.createSandbox(peer.name('cp'));
      const v1 = await box.createCheckpoint('first');
      expect(v1).toMatchObject({ id: 'v1', comment: 'first', is_auto: false });
      const listed = await box.listCheckpoints();
      expect(listed.map((c) => checkpointSchema.parse(c).id)).toEqual(['v1', 'v0']);
      expect(await box.getCheckpoint('v1')).toMatchObject({ id: 'v1', source_id: 'v0' });
      expect(await refusal(box.getCheckpoint('v9'))).toMatchObject({ status: 404, code: 'checkpoint_not_found' });
      expect((await refusal(box.deleteCheckpoint('v1'))).status).toBe(409);
      await box.deleteCheckpoint('v0');
      expect((await box.listCheckpoints()).map((c) => c.id)).toEqual(['v1']);
    });

    it('restores a checkpoint, keeping the state before as an automatic one, and forks one', async () => {
      const box = await client.createSandbox(peer.name('rs'));
      await box.createCheckpoint();
      await box.restoreCheckpoint('v0');
      const all = await box.listCheckpoints({ includeAuto: true });
      expect(all.filter((c) => c.is_auto)).toHaveLength(1);
      const fork = await box.fork('v1', peer.name('rs-fork'));
      expect((await fork.refresh()).name).toBe(peer.name('rs-fork'));
      expect(await refusal(box.fork('v1', peer.name('rs-fork')))).toMatchObject({ status: 409, code: 'sandbox_exists' });
    });

    it('kills every process but init, answering a KillResult; a sandbox under its process limit has no condition', async () => {
      const name = peer.name('kill');
      const box = await client.createSandbox(name);
      expect((await box.refresh()).condition ?? null).toBeNull();
      const result = killResultSchema.parse(await box.killProcesses());
      expect(result.sprite_name).toBe(name);
      expect(result.killed).toBeGreaterThanOrEqual(0);
      expect(await refusal(client.sandbox(peer.name('kill-ghost')).killProcesses())).toMatchObject({ status: 404, code: 'sandbox_not_found' });
    });

    it('destroys a sandbox, after which get is 404', async () => {
      const box = await client.createSandbox(peer.name('gone'));
      await box.delete();
      expect((await refusal(box.refresh())).status).toBe(404);
    });
  });
}
