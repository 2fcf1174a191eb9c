// Restart, check and the privileges policy (spec sections 2 and 8) on real gVisor and runc
// sandboxes: a restart is a new boot on the same disk, a check probes a running sandbox and never
// wakes a sleeping one, and no-new-privileges takes sudo away from the next boot on.
import { beforeAll, describe, expect, it } from 'vitest';
import { attenuateToken, BurrowClient, BurrowError, type Sandbox, type Service } from '@burrow/sdk';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CLI, sandboxName } from '../support/instance.js';
import { until } from '../support/until.js';
import { useInstance } from '../support/use-instance.js';

const burrow = useInstance({ BURROW_WARM_AFTER: 'off' });
let client: BurrowClient;

beforeAll(async () => {
  client = burrow.client();
});

async function refusal(promise: Promise<unknown>): Promise<BurrowError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BurrowError);
  return error as BurrowError;
}

/** Whether this process runs with no_new_privs, asked of the kernel (gVisor has no NoNewPrivs line in /proc). */
const NNP_PROBE = ['python3', ['-c', 'import ctypes; print(ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))']] as const;

describe.each(['gvisor', 'runc'] as const)('a %s sandbox', (runtime) => {
  let box: Sandbox;

  beforeAll(async () => {
    box = await client.createSandbox(sandboxName(`rcp-${runtime}`), { runtime });
  });

  it('restarts on its disk: files stay, every process ends, services start again', async () => {
    await box.exec('sh', ['-c', 'echo kept > ~/kept']);
    await box.services.put('ticker', { cmd: 'sleep', args: ['1001'] });
    const before = await until('the service to run', () => box.services.get('ticker'), { accept: (s: Service) => s.state?.status === 'running' });
    await box.exec('sh', ['-c', 'nohup sleep 1234 >/dev/null 2>&1 &']);
    expect((await box.exec('pgrep', ['-f', 'sleep 123[4]'])).exitCode).toBe(0);

    const first = await box.restart();
    expect(first).toMatchObject({ sprite_name: box.name, message: expect.stringMatching(/restarted from running/) });
    expect(first.machine_id).toMatch(new RegExp(`^${(await box.refresh()).id}-`));

    expect((await box.exec('cat', ['/home/user/kept'])).stdout).toBe('kept\n');
    expect((await box.exec('pgrep', ['-f', 'sleep 123[4]'])).exitCode).toBe(1);
    const after = await until('the service to run again', () => box.services.get('ticker'), { accept: (s: Service) => s.state?.status === 'running' });
    expect(after.state?.started_at).not.toBe(before.state?.started_at);
    expect((await box.exec('pgrep', ['-f', 'sleep 100[1]'])).exitCode).toBe(0);

    const second = await box.restart();
    expect(second.machine_id).not.toBe(first.machine_id);
    const events = await box.events();
    expect(events.filter((e) => e.type === 'restarted')).toHaveLength(2);
    await box.services.delete('ticker');
  });

  it.each([
    ['warm', false],
    ['cold', true],
  ] as const)('wakes a %s sandbox by restarting it', async (depth, cold) => {
    await box.sleep({ cold });
    expect((await box.refresh()).status).toBe(depth);
    const result = await box.restart();
    expect(result.message).toMatch(new RegExp(`restarted from ${depth}`));
    expect((await box.refresh()).status).toBe('running');
    expect((await box.exec('cat', ['/home/user/kept'])).stdout).toBe('kept\n');
  });

  it('checks a running sandbox with a real probe, and reports a warm or cold one without waking it', async () => {
    const running = await box.check();
    expect(running).toMatchObject({ sprite_name: box.name, sprite_id: (await box.refresh()).id, status: 'ok' });
    expect(running.elapsed).toBeGreaterThan(0);
    expect(new Date(running.checked_at).toISOString()).toBe(running.checked_at);

    await box.sleep();
    const warm = await box.check();
    expect(warm).toMatchObject({ status: 'warm', reason: expect.stringMatching(/not probed/) });
    expect(warm.elapsed).toBeUndefined();
    expect((await box.refresh()).status).toBe('warm');

    await box.sleep({ cold: true });
    const cold = await box.check();
    expect(cold).toMatchObject({ status: 'cold', reason: expect.stringMatching(/not probed/) });
    expect((await box.refresh()).status).toBe('cold');
    await box.wake();
  });

  it('applies no-new-privileges from the next boot: sudo is refused, by either path; reset gives it back', async () => {
    expect(await box.getPrivileges()).toEqual({ profile: 'standard', devices: [], noNewPrivileges: false });
    expect(await box.setPrivileges({ noNewPrivileges: true })).toEqual({ profile: 'standard', devices: [], noNewPrivileges: true });
    expect(await box.getPrivileges()).toMatchObject({ noNewPrivileges: true });
    // Stored, not applied yet: this boot keeps its sudo.
    expect((await box.exec('sudo', ['true'])).exitCode).toBe(0);

    await box.restart();
    const sudo = await box.exec('sudo', ['id', '-u']);
    expect(sudo.exitCode).not.toBe(0);
    expect(sudo.stdout).toBe('');
    // The agent's socket is what sudo uses under gVisor; asking it directly is refused too.
    const direct = await box.exec('/usr/local/sbin/burrow-agent', ['exec', 't', '0', '0', '/', '0', '0', '0', '--', 'id', '-u']);
    expect(direct.exitCode).not.toBe(0);
    expect(direct.stdout).toBe('');
    expect((await box.exec(...NNP_PROBE)).stdout).toBe('1\n');
    if (runtime === 'runc') {
      expect((await box.exec('grep', ['NoNewPrivs', '/proc/self/status'])).stdout).toMatch(/NoNewPrivs:\s+1/);
      expect((await box.exec('/usr/bin/sudo', ['true'])).exitCode).not.toBe(0);
    }
    // Commands burrow runs as root still work (file operations as root, say).
    await box.fs.with({ asRoot: true }).writeFile('/root/still-root', 'yes');

    expect(await box.resetPrivileges()).toEqual({ profile: 'standard', devices: [], noNewPrivileges: false });
    await box.restart();
    expect(await box.exec('sudo', ['id', '-u'])).toMatchObject({ stdout: '0\n', exitCode: 0 });
    if (runtime === 'runc') {
      expect((await box.exec('grep', ['NoNewPrivs', '/proc/self/status'])).stdout).toMatch(/NoNewPrivs:\s+0/);
    }
  });

  it('takes sudo away with the minimal profile too', async () => {
    expect(await box.setPrivileges({ profile: 'minimal' })).toMatchObject({ profile: 'minimal', noNewPrivileges: true });
    await box.restart();
    expect((await box.exec('sudo', ['true'])).exitCode).not.toBe(0);
    await box.resetPrivileges();
    await box.restart();
    expect((await box.exec('sudo', ['true'])).exitCode).toBe(0);
  });
});

describe('what cannot be applied, or is not a policy', () => {
  let box: Sandbox;

  beforeAll(async () => {
    box = await client.createSandbox(sandboxName('rcp-bad'));
    await box.setPrivileges({ devices: ['/dev/null'] });
  });

  it.each([
    ['host devices', { devices: ['kvm'] }, /cannot pass host devices.*'kvm'/],
    ['a privileged profile', { profile: 'privileged' }, /profile 'privileged' is not available/],
    ['minimal with new privileges', { profile: 'minimal', noNewPrivileges: false }, /always sets noNewPrivileges/],
    ['an unknown profile', { profile: 'root' }, /profile/],
    ['a flag that is not a boolean', { noNewPrivileges: 'yes' }, /noNewPrivileges/],
    ['an unknown field', { capabilities: ['CAP_SYS_ADMIN'] }, /capabilities/],
  ])('refuses %s with 400 invalid_policy and changes nothing', async (_what, body, message) => {
    const response = await fetch(`${burrow.url}/v1/sprites/${box.name}/policy/privileges`, {
      method: 'POST',
      headers: { authorization: `Bearer ${burrow.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(400);
    const error = (await response.json()) as { error: string; message: string };
    expect(error.error).toBe('invalid_policy');
    expect(error.message).toMatch(message);
    expect(await box.getPrivileges()).toEqual({ profile: 'standard', devices: ['null'], noNewPrivileges: false });
  });

  it('answers 404 for a sandbox that does not exist, and 400 for a bad name', async () => {
    const ghost = client.sandbox(sandboxName('rcp-ghost'));
    expect((await refusal(ghost.restart())).status).toBe(404);
    expect((await refusal(ghost.check())).status).toBe(404);
    expect((await refusal(ghost.getPrivileges())).status).toBe(404);
    expect((await refusal(ghost.setPrivileges({ noNewPrivileges: true }))).status).toBe(404);
    expect((await refusal(client.sandbox('Bad_Name').check())).code).toBe('invalid_name');
  });

  it('describes the three routes in /v1/openapi.json', async () => {
    const doc = (await (await fetch(`${burrow.url}/v1/openapi.json`)).json()) as { paths: Record<string, object> };
    expect(Object.keys(doc.paths['/v1/sprites/{name}/policy/privileges']!)).toEqual(expect.arrayContaining(['get', 'post', 'delete']));
    expect(doc.paths['/v1/sprites/{name}/restart']).toHaveProperty('post');
    expect(doc.paths['/v1/sprites/{name}/check']).toHaveProperty('get');
  });

  it('needs exec to restart, read to check, admin to change privileges', async () => {
    const as = (ops: Array<'read' | 'exec' | 'admin'>) => new BurrowClient({ baseURL: burrow.url, token: attenuateToken(burrow.token, { ops }) }).sandbox(box.name);
    const reader = as(['read']);
    expect((await reader.check()).status).toBe('ok');
    expect((await reader.getPrivileges()).devices).toEqual(['null']);
    expect((await refusal(reader.restart())).status).toBe(403);
    const executor = as(['exec']);
    expect((await executor.restart()).sprite_name).toBe(box.name);
    expect((await refusal(executor.setPrivileges({ noNewPrivileges: true }))).status).toBe(403);
    expect((await refusal(executor.resetPrivileges())).status).toBe(403);
    expect((await box.getPrivileges()).noNewPrivileges).toBe(false);
  });
});

describe('the CLI', () => {
  const cli = async (...args: string[]) =>
    promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, ...burrow.cliEnv() } }).then(
      ({ stdout }) => ({ stdout, code: 0 }),
      (e: { stdout: string; code: number }) => ({ stdout: e.stdout, code: e.code }),
    );

  it('sets privileges, restarts and checks', async () => {
    const box = await client.createSandbox(sandboxName('rcp-cli'), { runtime: 'runc' });
    expect((await cli('privileges', 'set', box.name, '--no-new-privileges')).stdout).toMatch(/profile standard \(no new privileges, sudo refused\); applies from its next boot/);
    expect(JSON.parse((await cli('privileges', 'get', box.name)).stdout)).toEqual({ profile: 'standard', devices: [], noNewPrivileges: true });
    expect(await cli('restart', box.name)).toMatchObject({ stdout: expect.stringMatching(/restarted/), code: 0 });
    expect((await box.exec('sudo', ['true'])).exitCode).not.toBe(0);
    expect((await cli('privileges', 'set', box.name, '--new-privileges')).stdout).toMatch(/sudo works/);
    expect(await cli('check', box.name)).toMatchObject({ stdout: expect.stringMatching(/: ok \(probe [\d.]+ ms\)/), code: 0 });
    await box.sleep({ cold: true });
    expect(JSON.parse((await cli('check', box.name, '--json')).stdout)).toMatchObject({ status: 'cold' });
    expect((await cli('privileges', 'reset', box.name)).stdout).toMatch(/sudo works/);
    expect((await box.refresh()).status).toBe('cold');
  });
});

describe('a sandbox polled with check', () => {
  it('still goes warm when idle: checking is not use', async () => {
    const box = await client.createSandbox(sandboxName('rcp-idle'), { sleep: { warm_after: '2s', cold_after: 'off' } });
    const seen = await until('the sandbox to go warm while polled', () => box.check(), { accept: (c) => c.status === 'warm' });
    expect(seen.reason).toMatch(/not probed/);
    expect((await box.refresh()).status).toBe('warm');
  });
});
