// Metering, usage, metrics and the event log against a real daemon and real gVisor sandboxes:
// CPU-seconds match what a busy loop burned, usage and cost come back per sandbox and in total,
// /metrics carries every family, events arrive in order (and live when followed), the CLI
// prints them, and bad input is refused without changing anything.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BurrowClient, SandboxEventWire } from '@burrow/sdk';
import { CLI, sandboxName } from '../support/instance.js';
import { useInstance } from '../support/use-instance.js';

const burrow = useInstance({ BURROW_METER_DISK_INTERVAL: '1s' });
let client: BurrowClient;
const name = sandboxName('obs');
const forkName = sandboxName('obs-fork');

beforeAll(async () => {
  client = burrow.client();
  await client.createSandbox(name, { config: { cpus: 1 } });
});

const call = (method: string, path: string, body?: unknown) => burrow.call(method, path, body);

async function cpuSeconds(sandbox: string): Promise<number> {
  const report = await client.sandbox(sandbox).usage({ from: new Date(Date.now() - 3_600_000) });
  return report.sprites.find((s) => s.name === sandbox)?.cpu_seconds ?? 0;
}

/** CPU metered across running `code` in python3 (a fresh process each time). */
async function meteredCpu(sandbox: string, code: string): Promise<number> {
  const before = await cpuSeconds(sandbox);
  const r = await client.sandbox(sandbox).exec('python3', ['-c', code]);
  expect(r.exitCode).toBe(0);
  return (await cpuSeconds(sandbox)) - before;
}

/** Burns CPU until the process itself has used `seconds` of it, however busy the host is. */
const busyLoop = (seconds: number) => `import time\nt = time.process_time()\nwhile time.process_time() - t < ${seconds}: pass`;

describe('metering', () => {
  it('meters a busy loop that burns 3 CPU-seconds as 3 CPU-seconds, within 15%', async () => {
    // runc: the loop's own clock is the host kernel's accounting of its CPU time, the truth
    // to hold the meter to. (A gVisor task's clock runs with the wall while it is scheduled.)
    const runc = sandboxName('obs-cpu');
    await client.createSandbox(runc, { runtime: 'runc', config: { cpus: 1 } });
    // What starting python and the exec cost, measured the same way (files cached), is not
    // part of the loop.
    await meteredCpu(runc, 'pass');
    const overhead = await meteredCpu(runc, 'pass');
    const metered = (await meteredCpu(runc, busyLoop(3))) - overhead;
    expect(metered).toBeGreaterThan(3 * 0.85);
    expect(metered).toBeLessThan(3 * 1.15);
    await client.deleteSandbox(runc);
  });

  it('meters a gVisor busy loop at no more CPU than the loop had time for', async () => {
    await meteredCpu(name, 'pass');
    const started = Date.now();
    const metered = await meteredCpu(name, busyLoop(3));
    const wall = (Date.now() - started) / 1000;
    // One CPU (cpus: 1) for the loop's wall time is the ceiling; a busy host gives it less.
    expect(metered).toBeGreaterThan(1);
    expect(metered).toBeLessThan(wall * 1.15);
  });

  it('reports memory, disk and cost per sandbox and in total, and a series for charts', async () => {
    await client.sandbox(name).exec('sh', ['-c', 'head -c 50M /dev/urandom > ~/data && sync']);
    await new Promise((r) => setTimeout(r, 3000)); // a disk refresh (1 s here) and a few samples
    const report = await client.usage({ from: new Date(Date.now() - 3_600_000) });
    const mine = report.sprites.find((s) => s.name === name)!;
    expect(mine.cpu_seconds).toBeGreaterThan(1);
    expect(mine.memory_gb_seconds).toBeGreaterThan(0);
    expect(mine.disk_gb_hours).toBeGreaterThan(0);
    expect(report.total.cpu_seconds).toBeGreaterThanOrEqual(mine.cpu_seconds);
    expect(report.prices).toEqual({ cpu_hour: 0.07, ram_gb_hour: 0.04375, storage_gb_month: 0.5 });
    const expected = (mine.cpu_seconds / 3600) * 0.07 + (mine.memory_gb_seconds / 3600) * 0.04375 + (mine.disk_gb_hours / 730) * 0.5;
    expect(mine.cost.total).toBeCloseTo(expected, 4);
    expect(report.series.points.reduce((a, p) => a + p.cpu_seconds, 0)).toBeCloseTo(report.total.cpu_seconds, 1);
    // The same through `?sprite=` and the per-sandbox route.
    const filtered = await call('GET', `/v1/usage?sprite=${name}`);
    expect((filtered.body.sprites as Array<{ name: string }>).map((s) => s.name)).toEqual([name]);
    const one = await call('GET', `/v1/sprites/${name}/usage?from=${Math.floor(Date.now() / 1000) - 3600}`);
    expect(one.status).toBe(200);
    expect((one.body.sprites as Array<{ name: string }>)[0]?.name).toBe(name);
  });
});

describe('the event log', () => {
  it('records create, checkpoint, restore, fork and destroy in order, and delivers new events live', async () => {
    const sandbox = client.sandbox(name);
    const stop = new AbortController();
    const live: SandboxEventWire[] = [];
    const following = (async () => {
      for await (const e of sandbox.followEvents({ signal: stop.signal })) live.push(e);
    })();
    const cp = await sandbox.createCheckpoint('before');
    await sandbox.restoreCheckpoint(cp.id);
    await sandbox.fork(cp.id, forkName);
    await client.deleteSandbox(forkName);
    const deadline = Date.now() + 10_000;
    while (!live.some((e) => e.type === 'forked') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    stop.abort();
    await following;
    const types = (await sandbox.events()).map((e) => e.type);
    expect(types).toEqual(['created', 'checkpointed', 'restored', 'forked']);
    // The follower got the history first, then each new event as it happened.
    expect(live.map((e) => e.type)).toEqual(['created', 'checkpointed', 'restored', 'forked']);
    const forkEvents = await client.sandbox(forkName).events();
    expect(forkEvents.map((e) => e.type)).toEqual(['created', 'forked', 'destroyed']);
    expect(forkEvents[1]!.message).toContain(`forked from '${name}' at ${cp.id}`);
    const restored = (await sandbox.events()).find((e) => e.type === 'restored')!;
    expect(restored).toMatchObject({ sprite: name, detail: { checkpoint: cp.id } });
    expect(Date.parse(restored.time)).toBeGreaterThan(0);
  });

  it('prints through `burrow events` and `burrow usage`', async () => {
    const run = promisify(execFile);
    const env = { ...process.env, ...burrow.cliEnv() };
    const events = await run(process.execPath, [CLI, 'events', name], { env });
    expect(events.stdout).toMatch(/created\s+created \(gvisor, dev; 1 CPU/);
    expect(events.stdout).toMatch(/restored\s+restored to v1/);
    const usage = await run(process.execPath, [CLI, 'usage', name, '--since', '1h'], { env });
    expect(usage.stdout).toMatch(/SANDBOX\s+CPU-S\s+MEM GB-S\s+DISK GB-H\s+COST/);
    expect(usage.stdout).toContain(name);
    expect(usage.stdout).toMatch(/^cpu\s+\|.*[▁▂▃▄▅▆▇█].*\|\s+peak/m);
    expect(usage.stdout).toContain('$0.07/vCPU-hour');
  });

  it('follows new events with `burrow events --follow` until interrupted', async () => {
    const child = spawn(process.execPath, [CLI, 'events', name, '--follow', '--limit', '1'], { env: { ...process.env, ...burrow.cliEnv() } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const seen = async (pattern: RegExp) => {
      const deadline = Date.now() + 20_000;
      while (!pattern.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(out).toMatch(pattern);
    };
    try {
      await seen(/forked/); // the newest past event first
      await client.sandbox(name).createCheckpoint('followed');
      await seen(/checkpointed\s+checkpoint v\d+ taken/);
    } finally {
      child.kill('SIGINT');
    }
    const code = await new Promise<number | null>((r) => child.once('close', r));
    expect(code).toBe(0);
  });
});

describe('GET /metrics', () => {
  it('exposes sandboxes by state, API latency by route, execs, wakes, checkpoints, restores, proxy and errors', async () => {
    await call('GET', '/v1/sprites/no-such-box');
    const { status, body } = await call('GET', '/metrics');
    expect(status).toBe(200);
    const text = body as unknown as string;
    expect(text).toMatch(/^burrow_sandboxes\{state="running"\} 1$/m);
    expect(text).toMatch(/^burrow_api_request_duration_seconds_count\{method="GET",route="\/v1\/sprites\/:name",status="404"\} [1-9]/m);
    expect(text).toMatch(/^burrow_execs_total [1-9]/m);
    expect(text).toMatch(/^burrow_checkpoint_duration_seconds_count [1-9]/m);
    expect(text).toMatch(/^burrow_restore_duration_seconds_count 1$/m);
    expect(text).toMatch(/^burrow_api_errors_total\{code="sandbox_not_found"\} [1-9]/m);
    expect(text).toMatch(/^burrow_sandbox_events_total\{type="created"\} 3$/m);
    expect(text).toMatch(/^# TYPE burrow_wake_duration_seconds histogram$/m);
    expect(text).toMatch(/^# TYPE burrow_proxy_injections_total counter$/m);
    expect(text).toMatch(/^# TYPE burrow_proxy_refusals_total counter$/m);
    expect(text).toMatch(/^burrow_meter_tick_duration_seconds_count [1-9]/m);
    expect(text).toMatch(/^burrow_process_resident_memory_bytes /m);
  });

  it('needs the token', async () => {
    const response = await fetch(`${burrow.url}/metrics`);
    expect(response.status).toBe(401);
  });
});

describe('bad input', () => {
  it.each([
    ['a time that is not one', '/v1/usage?from=yesterday', 'invalid_request'],
    ['from after to', '/v1/usage?from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z', 'invalid_request'],
    ['a range over 400 days', '/v1/usage?from=2020-01-01T00:00:00Z&to=2025-01-01T00:00:00Z', 'invalid_request'],
    ['an unknown parameter', '/v1/usage?since=1h', 'unknown_field'],
    ['an invalid sandbox name', '/v1/usage?sprite=Bad_Name', 'invalid_name'],
    ['an events limit of 0', `/v1/sprites/${name}/events?limit=0`, 'invalid_request'],
    ['an events cursor that is not a number', `/v1/sprites/${name}/events?after=x`, 'invalid_request'],
  ])('refuses %s with a flat 400', async (_what, path, code) => {
    const { status, body } = await call('GET', path);
    expect(status).toBe(400);
    expect(body).toEqual({ error: code, message: expect.any(String) });
  });

  it('answers 404 for the events and usage of a sandbox that never existed', async () => {
    expect((await call('GET', '/v1/sprites/never-was/events')).body).toMatchObject({ error: 'sandbox_not_found' });
    expect((await call('GET', '/v1/sprites/never-was/usage')).status).toBe(404);
  });

  it.each([
    ['ram_mb below 128', { config: { ram_mb: 64 } }],
    ['cpus of 0', { config: { cpus: 0 } }],
    ['pids_limit below 16', { config: { pids_limit: 5 } }],
    ['storage_gb that is not whole', { config: { storage_gb: 1.5 } }],
    ['a region change', { config: { region: 'ord' } }],
  ])('refuses limits with %s, and changes nothing', async (_what, body) => {
    const before = (await client.sandbox(name).refresh()).config;
    const { status, body: error } = await call('PUT', `/v1/sprites/${name}`, body);
    expect(status).toBe(400);
    expect(error).toMatchObject({ error: expect.stringMatching(/invalid_request|unknown_field/) });
    expect((await client.sandbox(name).refresh()).config).toEqual(before);
  });

  it('refuses a create with pids_limit below 16 and makes nothing', async () => {
    const { status } = await call('POST', '/v1/sprites', { name: sandboxName('nope'), config: { pids_limit: 4 } });
    expect(status).toBe(400);
    await expect(client.getSandbox(sandboxName('nope'))).rejects.toMatchObject({ status: 404 });
  });
});
