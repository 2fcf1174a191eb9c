// Supervised services in a real gVisor sandbox (spec §7): started in `needs` order, logged inside
// the sandbox and through the API, restarted with backoff when they crash, left alone once
// stopped, and back after a cold wake and a daemon restart.
import { beforeAll, describe, expect, it } from 'vitest';
import type { BurrowClient, Sandbox, Service } from '@burrow/sdk';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { LOG_ROTATE_BYTES } from '@burrow/server/testing';
import { CLI, sandboxName } from '../support/instance.js';
import { until } from '../support/until.js';
import { useInstance } from '../support/use-instance.js';

const burrow = useInstance({ BURROW_WARM_AFTER: 'off' });
let client: BurrowClient;
let sandbox: Sandbox;
const name = sandboxName('svc');

beforeAll(async () => {
  client = burrow.client();
  sandbox = await client.createSandbox(name);
});

const serviceOnce = (svc: string, accept: (s: Service) => boolean, timeoutMs?: number): Promise<Service> =>
  until(`service ${svc}`, () => sandbox.services.get(svc), { accept, timeoutMs, intervalMs: 200 });

const lines = async (path: string) => (await sandbox.exec('cat', [path])).stdout.split('\n').filter(Boolean);

/** The file's lines once it has `count` of them (a service writes a moment after it runs). */
const linesOnce = (path: string, count: number): Promise<string[]> =>
  until(`${count} lines in ${path}`, () => lines(path), { accept: (got) => got.length >= count, timeoutMs: 30_000, intervalMs: 200 });

describe('a service', () => {
  it('starts on create, streaming its first output, running as the sandbox user', async () => {
    const events = await sandbox.services.put(
      'web',
      { cmd: 'sh', args: ['-c', 'echo "web up as $(id -un) in $PWD with $GREETING"; echo web >> ~/starts; exec sleep 1000'], env: { GREETING: 'hi' } },
      { duration: '2s' },
    );
    expect(events[0]?.type).toBe('started');
    expect(events.filter((e) => e.type === 'stdout').map((e) => e.data).join('')).toBe('web up as user in /home/user with hi\n');
    expect(events.at(-1)).toMatchObject({ type: 'complete', log_files: ['/.burrow/logs/services/web.log'] });
    const web = await sandbox.services.get('web');
    expect(web).toMatchObject({ name: 'web', cmd: 'sh', needs: [], state: { status: 'running', restart_count: 0 } });
    expect(web.state.pid).toBeGreaterThan(0);
  });

  it('logs into /.burrow/logs/services/<name>.log inside, and through the API', async () => {
    expect(await linesOnce('/.burrow/logs/services/web.log', 1)).toEqual(['web up as user in /home/user with hi']);
    const logs = await sandbox.services.logs('web', { lines: 10 });
    expect(logs.filter((e) => e.type === 'stdout').map((e) => e.data)).toEqual(['web up as user in /home/user with hi\n']);
  });

  it('starts after the services it needs', async () => {
    await sandbox.services.put('db', { cmd: 'sh', args: ['-c', 'echo db >> ~/order; exec sleep 1000'] });
    await sandbox.services.put('api', { cmd: 'sh', args: ['-c', 'echo api >> ~/order; exec sleep 1000'], needs: ['db'] });
    const [db, api] = [await sandbox.services.get('db'), await sandbox.services.get('api')];
    expect(Date.parse(db.state.started_at!)).toBeLessThanOrEqual(Date.parse(api.state.started_at!));
    expect((await linesOnce('/home/user/order', 2)).sort()).toEqual(['api', 'db']);
    const list = await sandbox.services.list();
    expect(list.map((s) => [s.name, s.state.status])).toEqual([['api', 'running'], ['db', 'running'], ['web', 'running']]);
  });

  it('comes back after a cold sleep and wake, in needs order', async () => {
    await sandbox.exec('rm', ['/home/user/order']);
    await sandbox.sleep({ cold: true });
    expect((await sandbox.services.get('web')).state.status).toBe('stopped');
    await sandbox.wake();
    await serviceOnce('web', (s) => s.state.status === 'running');
    await serviceOnce('api', (s) => s.state.status === 'running');
    expect(await linesOnce('/home/user/starts', 2)).toEqual(['web', 'web']);
    const [db, api] = [await sandbox.services.get('db'), await sandbox.services.get('api')];
    expect(Date.parse(db.state.started_at!)).toBeLessThanOrEqual(Date.parse(api.state.started_at!));
  });

  it('stays frozen, not restarted, across a warm sleep', async () => {
    const before = (await sandbox.services.get('web')).state;
    await sandbox.sleep();
    await sandbox.wake();
    const after = (await sandbox.services.get('web')).state;
    expect(after).toMatchObject({ status: 'running', pid: before.pid, started_at: before.started_at });
  });

  it('refuses to be deleted while another service needs it, and refuses unknown needs', async () => {
    await expect(sandbox.services.delete('db')).rejects.toMatchObject({ status: 409 });
    await expect(sandbox.services.put('x', { cmd: 'true', needs: ['nope'] })).rejects.toMatchObject({ status: 409 });
    await expect(sandbox.services.put('bad/name', { cmd: 'true' })).rejects.toMatchObject({ status: 400 });
    await expect(sandbox.services.put('y', { cmd: '' })).rejects.toMatchObject({ status: 400 });
    expect((await sandbox.services.list()).map((s) => s.name)).toEqual(['api', 'db', 'web']);
  });
});

describe('a crashing service', () => {
  it('is restarted with a growing delay between restarts', async () => {
    await sandbox.services.put('crashy', { cmd: 'sh', args: ['-c', 'date +%s%N >> ~/crashes; echo boom >&2; exit 3'] });
    const failed = await serviceOnce('crashy', (s) => s.state.status === 'failed' && s.state.next_restart_at !== null);
    expect(failed.state.error).toBe('exited with code 3');
    await serviceOnce('crashy', (s) => s.state.restart_count >= 4, 90_000);
    await sandbox.services.stop('crashy').catch(() => undefined);
    const times = (await lines('/home/user/crashes')).map((t) => Number(BigInt(t) / 1_000_000n));
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // Waits of 1 s, 2 s, 4 s, each on top of the time a start takes: the third gap is the
    // first one plus about 3 s.
    expect(gaps[2]!).toBeGreaterThan(gaps[0]! + 1_500);
    const logs = await sandbox.services.logs('crashy');
    expect(logs.filter((e) => e.type === 'stdout').length).toBeGreaterThanOrEqual(3);
  });
});

describe('a stopped service', () => {
  it('stops with its events streamed, and is not restarted', async () => {
    const events = await sandbox.services.stop('web', { timeout: '5s' });
    expect(events.map((e) => e.type)).toEqual(['stopping', 'exit', 'stopped', 'complete']);
    expect((await sandbox.services.get('web')).state.status).toBe('stopped');
    await expect(sandbox.services.stop('web')).rejects.toMatchObject({ status: 409 });
  });

  it('stays stopped across a cold wake and a daemon restart', async () => {
    await sandbox.sleep({ cold: true });
    await sandbox.wake();
    await serviceOnce('api', (s) => s.state.status === 'running');
    expect((await sandbox.services.get('web')).state.status).toBe('stopped');
    await burrow.stop('SIGKILL');
    await burrow.start();
    client = burrow.client();
    sandbox = client.sandbox(name);
    await serviceOnce('api', (s) => s.state.status === 'running');
    expect((await sandbox.services.get('web')).state.status).toBe('stopped');
    // The daemon restarted the others: the processes of the previous daemon are gone.
    const count = async () => (await sandbox.exec('sh', ['-c', 'ps -eo args | grep -c "^sleep 1000$"'])).stdout.trim();
    const deadline = Date.now() + 20_000;
    while ((await count()) !== '2' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 300));
    expect(await count()).toBe('2'); // db and api, once each
  });

  it('sets a log that outgrew its limit aside as <name>.log.1 when the service starts again', async () => {
    const log = '/.burrow/logs/services/chatty.log';
    await sandbox.services.put('chatty', { cmd: 'sh', args: ['-c', 'echo chatty started; exec sleep 1000'] });
    expect(await linesOnce(log, 1)).toEqual(['chatty started']);
    await sandbox.services.stop('chatty');
    const grow = await sandbox.exec('sudo', ['sh', '-c', `head -c ${LOG_ROTATE_BYTES + 1} /dev/zero | tr '\\0' x >> ${log}`]);
    expect(grow.exitCode).toBe(0);
    await sandbox.services.start('chatty');
    expect(await linesOnce(log, 1)).toEqual(['chatty started']);
    const sizeOf = async (path: string) => Number((await sandbox.exec('stat', ['-c', '%s', path])).stdout);
    expect(await sizeOf(`${log}.1`)).toBeGreaterThan(LOG_ROTATE_BYTES);
    expect(await sizeOf(log)).toBeLessThan(100);
    await sandbox.services.stop('chatty');
    await sandbox.services.delete('chatty');
  });

  it('starts again on request, takes signals, and can be deleted', async () => {
    await sandbox.services.start('web');
    expect((await sandbox.services.get('web')).state.status).toBe('running');
    await sandbox.services.signal('web', 'TERM');
    await serviceOnce('web', (s) => s.state.status !== 'running');
    await sandbox.services.stop('web').catch(() => undefined);
    await sandbox.services.delete('web');
    await expect(sandbox.services.get('web')).rejects.toMatchObject({ status: 404 });
  });
});

describe('the CLI', () => {
  const burrowCli = (...args: string[]) =>
    promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, ...burrow.cliEnv() } });

  it('creates, lists and reads the logs of a service, and puts the sandbox to sleep and wakes it', async () => {
    const made = await burrowCli('service', 'create', name, 'cli', '--', 'sh', '-c', 'echo from the cli; exec sleep 1000');
    expect(made.stdout).toBe('from the cli\n');
    expect((await burrowCli('service', 'list', name)).stdout).toMatch(/^cli +running +\d+ /m);
    expect((await burrowCli('service', 'logs', name, 'cli')).stdout).toBe('from the cli\n');
    expect((await burrowCli('sleep', name, '--cold')).stdout).toMatch(new RegExp(`^${name} is cold`));
    expect((await burrowCli('wake', name)).stdout).toMatch(new RegExp(`^${name} is running`));
    await serviceOnce('cli', (s) => s.state.status === 'running');
    await burrowCli('service', 'stop', name, 'cli');
    expect((await burrowCli('service', 'delete', name, 'cli')).stdout).toBe(`deleted service cli of ${name}\n`);
  });
});
