// A sandbox that forks, spins or allocates without end stays inside its limits: a neighbour
// keeps answering, burrow can always end what runs inside (at the process limit, where no exec
// can start), and the event log and the sandbox's state say what happened. Real runc and gVisor
// sandboxes; a neighbour's latency is measured and logged, never asserted.
import { beforeAll, describe, expect, it } from 'vitest';
import { BurrowError, type BurrowClient, type Sandbox } from '@burrow/sdk';
import { sandboxName } from '../support/instance.js';
import { until } from '../support/until.js';
import { useInstance } from '../support/use-instance.js';

const burrow = useInstance({ BURROW_WARM_AFTER: 'off' });
let client: BurrowClient;
let neighbour: Sandbox;
let quietMs: number;

/**
 * Starts a fork bomb as `user`, detached: `bash -c` returns at once and its children go on. Each
 * process forks in a loop, so the bomb never dies out by itself at the limit.
 */
const FORK_BOMB: [string, string[]] = ['bash', ['-c', 'b() { while :; do b & done; }; b >/dev/null 2>&1 &']];

beforeAll(async () => {
  client = burrow.client();
  neighbour = await client.createSandbox(sandboxName('neighbour'), { runtime: 'runc' });
  quietMs = await neighbourLatency();
  console.log(`neighbour exec, quiet: ${quietMs} ms`);
});

/** The slowest of three `echo ok` in the neighbour, which must answer each. */
async function neighbourLatency(): Promise<number> {
  let slowest = 0;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    const result = await neighbour.exec('echo', ['ok']);
    slowest = Math.max(slowest, performance.now() - started);
    expect(result).toMatchObject({ exitCode: 0, stdout: 'ok\n' });
  }
  return Math.round(slowest);
}

async function processCount(box: Sandbox): Promise<number> {
  const { stdout } = await box.exec('sh', ['-c', 'ls /proc | grep -c "^[0-9]"']);
  return Number(stdout.trim());
}

describe('a fork bomb in a runc sandbox', () => {
  let box: Sandbox;

  beforeAll(async () => {
    box = await client.createSandbox(sandboxName('bomb-runc'), { runtime: 'runc', config: { pids_limit: 256 } });
  });

  it('is recorded, shown, refused new commands with pids_exhausted, and ended by kill while a neighbour answers', async () => {
    await box.exec('sh', ['-c', 'nohup sleep 1000 >/dev/null 2>&1 &']);
    expect((await box.exec(...FORK_BOMB)).exitCode).toBe(0);

    const sprite = await until('the sandbox to show its process limit reached', () => box.refresh(), {
      accept: (s) => s.condition === 'pids_exhausted',
      timeoutMs: 90_000,
    });
    expect(sprite.status).toBe('running');
    const events = await box.events();
    expect(events.filter((e) => e.type === 'pids_exhausted')).toHaveLength(1);
    expect(events.find((e) => e.type === 'pids_exhausted')?.message).toMatch(/limit of 256 processes.*burrow kill/);

    const during = await neighbourLatency();
    console.log(`neighbour exec during a runc fork bomb: ${during} ms (quiet ${quietMs} ms, x${(during / quietMs).toFixed(1)})`);

    // A clear refusal at once, not `runc exec` failing minutes later with a Go stack dump.
    const refused = await box.exec('echo', ['hi']).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(BurrowError);
    expect(refused).toMatchObject({ code: 'pids_exhausted', status: 409 });
    expect((refused as Error).message).toMatch(/burrow kill/);

    const { killed } = await box.killProcesses();
    expect(killed).toBeGreaterThan(100);
    expect(await processCount(box)).toBeLessThan(10);
    expect((await box.refresh()).condition).toBeNull();
    // Everything but init ended, the process started before the bomb too.
    expect((await box.exec('pgrep', ['-f', 'sleep 100[0]'])).exitCode).toBe(1);
  });
});

describe('a CPU spinner on every core and a memory hog in a runc sandbox', () => {
  it('leave a neighbour answering; the hog alone is killed and the sandbox keeps running', async () => {
    const box = await client.createSandbox(sandboxName('spin-runc'), { runtime: 'runc', config: { ram_mb: 256 } });
    await box.exec('sh', ['-c', 'for i in $(seq $(nproc)); do (while :; do :; done) >/dev/null 2>&1 & done']);
    const spinning = await neighbourLatency();
    console.log(`neighbour exec during a runc spinner on every core: ${spinning} ms (quiet ${quietMs} ms)`);

    // tail keeps the last 1 GiB it read in memory: 4 times the sandbox's RAM.
    const hog = await box.exec('sh', ['-c', 'head -c 1G /dev/zero | tail -c 1073741824 >/dev/null']);
    expect(hog.exitCode).not.toBe(0);
    const hogging = await neighbourLatency();
    console.log(`neighbour exec after a runc memory hog: ${hogging} ms (quiet ${quietMs} ms)`);
    // The meter notices the kill at its next sample of the memory cgroup, not when exec returns.
    await until('the OOM kill to be recorded', () => box.events(), {
      accept: (events) => events.some((e) => e.type === 'oom_killed'),
      timeoutMs: 30_000,
    });
    expect((await box.refresh()).status).toBe('running');

    expect((await box.killProcesses()).killed).toBeGreaterThanOrEqual(2);
    expect(await processCount(box)).toBeLessThan(10);
  });
});

describe('a gVisor sandbox', () => {
  it('runs hundreds of processes (its runtime has host tasks for their ptrace stubs), and kill ends them', async () => {
    // Each process inside costs gVisor's ptrace platform 10-16 host tasks: with the sandbox's
    // own limit (1024 here) as the host's, its runtime died at about 80 processes.
    const box = await client.createSandbox(sandboxName('many-gvisor'), { runtime: 'gvisor', config: { pids_limit: 1024 } });
    await box.exec('bash', ['-c', 'for i in $(seq 200); do nohup sleep 300 >/dev/null 2>&1 & done']);
    expect(await processCount(box)).toBeGreaterThanOrEqual(200);
    expect((await box.refresh()).status).toBe('running');
    expect((await box.events()).map((e) => e.type)).not.toContain('failed');

    expect((await box.killProcesses()).killed).toBeGreaterThanOrEqual(200);
    expect(await processCount(box)).toBeLessThan(10);
  });

  it('under a fork bomb leaves a neighbour answering, says what happened, and can be restarted', async () => {
    // The bomb cannot be stopped inside gVisor's ptrace platform without the runtime dying: its
    // stubs (10-16 host tasks per process) reach the host's pids limit or the memory limit
    // before the processes inside reach pids_limit. The sandbox then ends, and is recorded.
    const box = await client.createSandbox(sandboxName('bomb-gvisor'), { runtime: 'gvisor', config: { pids_limit: 256 } });
    expect((await box.exec(...FORK_BOMB)).exitCode).toBe(0);
    const outcome = await until(
      'the bomb to be noticed',
      () => box.events(),
      { accept: (events) => events.some((e) => ['pids_exhausted', 'oom_killed', 'failed'].includes(e.type)), timeoutMs: 90_000 },
    );
    console.log(`gVisor fork bomb: ${outcome.filter((e) => e.type !== 'created').map((e) => `${e.type}: ${e.message}`).join('; ')}`);
    const during = await neighbourLatency();
    console.log(`neighbour exec during a gVisor fork bomb: ${during} ms (quiet ${quietMs} ms)`);

    // Stopping it always works, whether its runtime is still up or already gone.
    await box.restart();
    expect(await processCount(box)).toBeLessThan(10);
    expect((await box.exec('echo', ['back'])).stdout).toBe('back\n');
  });
});
