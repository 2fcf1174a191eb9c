// The in-sandbox API through `burrow-env`, from inside real sandboxes: who calls is which socket
// the call came in on, so a sandbox holds itself awake, checkpoints itself and manages its own
// services, and can do none of that to another sandbox.
import { beforeAll, describe, expect, it } from 'vitest';
import type { BurrowClient, Sprite } from '@burrow/sdk';
import { sandboxName } from '../support/instance.js';
import { until } from '../support/until.js';
import { useInstance } from '../support/use-instance.js';

const burrow = useInstance({ BURROW_WARM_AFTER: '3s', BURROW_COLD_AFTER: 'off' });
let client: BurrowClient;
const a = sandboxName('api-a');
const b = sandboxName('api-b');

beforeAll(async () => {
  client = burrow.client();
  await client.createSandbox(a);
  await client.createSandbox(b);
});

const inside = (name: string, line: string) => client.sandbox(name).exec('sh', ['-c', line]);

/** The sandbox's record (reading it does not count as use) once `accept` takes it. */
const spriteOnce = (name: string, accept: (s: Sprite) => boolean, timeoutMs?: number): Promise<Sprite> =>
  until(`sandbox ${name}`, () => client.sandbox(name).refresh(), { accept, timeoutMs });

describe('inside a sandbox', () => {
  it('burrow-env knows which sandbox it is in, and /.burrow/llm.txt explains it', async () => {
    const info = await inside(a, 'burrow-env info');
    expect(info.exitCode).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ name: a });
    const llm = await inside(a, 'cat /.burrow/llm.txt');
    expect(llm.stdout).toContain('burrow-env task hold');
  });

  it('a task keeps the sandbox awake past its idle timeout, and releasing it lets it sleep', async () => {
    const held = await inside(a, 'burrow-env task hold build 1h && burrow-env task list');
    expect(held.exitCode).toBe(0);
    expect(held.stdout).toMatch(/^[0-9a-f]{12}\n[0-9a-f]{12} {2}build {2}until /);
    // b holds nothing and goes warm; a, holding a task, stays up meanwhile.
    await spriteOnce(b, (s) => s.status === 'warm');
    await new Promise((r) => setTimeout(r, 4000));
    expect((await client.sandbox(a).refresh()).status).toBe('running');
    expect((await inside(a, 'burrow-env task release build')).exitCode).toBe(0);
    await spriteOnce(a, (s) => s.status === 'warm');
  });

  it('a task expires by itself', async () => {
    expect((await inside(a, 'burrow-env task hold short 5s')).exitCode).toBe(0);
    await spriteOnce(a, (s) => s.status === 'warm', 30_000);
    expect((await inside(a, 'burrow-env task list')).stdout).toBe('');
  });

  it('checkpoints itself, and the checkpoint is its own', async () => {
    await inside(a, 'echo before > ~/state');
    const made = await inside(a, 'burrow-env checkpoint create -m "before a risky step"');
    expect(made).toMatchObject({ exitCode: 0 });
    const id = made.stdout.trim();
    const mine = await client.sandbox(a).listCheckpoints();
    expect(mine.find((c) => c.id === id)?.comment).toBe('before a risky step');
    const theirs = await client.sandbox(b).listCheckpoints();
    expect(theirs.some((c) => c.comment === 'before a risky step')).toBe(false);
    expect((await inside(a, 'burrow-env checkpoint list')).stdout).toContain(id);
  });

  it('manages its own services', async () => {
    const made = await inside(a, "burrow-env service create hello -- sh -c 'echo hello from a service; exec sleep 1000'");
    expect(made.exitCode).toBe(0);
    expect(made.stdout).toBe('hello from a service\n');
    const services = await client.sandbox(a).services.list();
    expect(services.map((s) => [s.name, s.state.status])).toEqual([['hello', 'running']]);
    expect(await client.sandbox(b).services.list()).toEqual([]);
    expect((await inside(a, 'burrow-env service logs hello')).stdout).toBe('hello from a service\n');
  });

  it('refuses bad input with a clear message', async () => {
    const r = await inside(a, 'burrow-env task hold x 2h');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/at most 1h/);
  });
});

describe('one sandbox against another', () => {
  it('sees only its own socket, and no path or field names another sandbox', async () => {
    const bId = (await client.sandbox(b).refresh()).id;
    const bCheckpoints = (await client.sandbox(b).listCheckpoints()).length;
    const r = await inside(
      a,
      [
        'ls /.burrow/api',
        `test -e ${burrow.home}/sandboxes/${bId}/api/api.sock && echo SEES-B`,
        `curl -s --unix-socket /.burrow/api/api.sock -X POST -H 'Content-Type: application/json' -d '{}' http://burrow/v1/sprites/${b}/checkpoint`,
        'echo',
        `curl -s --unix-socket /.burrow/api/api.sock -X POST -H 'Content-Type: application/json' -d '{"name":"x","expire":"1h","sandbox":"${b}"}' http://burrow/v1/tasks`,
      ].join('; '),
    );
    const [listing, notFound, unknownField] = r.stdout.split('\n');
    expect(listing).toBe('api.sock');
    expect(r.stdout).not.toContain('SEES-B');
    expect(JSON.parse(notFound!)).toMatchObject({ error: 'not_found' });
    expect(JSON.parse(unknownField!)).toMatchObject({ error: 'unknown_field' });
    expect((await inside(b, 'burrow-env task list')).stdout).toBe('');
    expect((await client.sandbox(b).listCheckpoints()).length).toBe(bCheckpoints);
  });

  it('works the same in a runc sandbox', async () => {
    const c = sandboxName('api-runc');
    await client.createSandbox(c, { runtime: 'runc' });
    const info = await inside(c, 'burrow-env info');
    expect(JSON.parse(info.stdout)).toMatchObject({ name: c });
  });
});
