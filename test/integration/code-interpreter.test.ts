// The code interpreter of a `code-interpreter` sandbox (E2B's /execute and /contexts, spec
// e2b-api.md §5) in a real gVisor sandbox, reached over HTTP through burrow's TCP proxy: results
// with their MIME bundles, streamed output, exceptions, kernel state across calls, matplotlib
// charts, contexts, per-call environment, bad input; and the bridge as a service that comes back
// after sleep, wake and a daemon restart. Every answer is checked to be strict NDJSON.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODE_INTERPRETER_PORT } from '@burrow/protocol';
import type { BurrowClient, Sandbox } from '@burrow/sdk';
import { sandboxName } from '../support/instance.js';
import { localPortTo, type LocalPort } from '../support/sandbox-port.js';
import { until } from '../support/until.js';
import { useInstance } from '../support/use-instance.js';

// The default image of this daemon, so that its first start on a machine builds it.
const burrow = useInstance({ BURROW_IMAGE: 'code-interpreter', BURROW_WARM_AFTER: 'off' }, { startTimeoutMs: 1_800_000 });
const name = sandboxName('interp');
let client: BurrowClient;
let sandbox: Sandbox;
let port: LocalPort;

type Line = { type: string } & Record<string, unknown>;

/** Reads an NDJSON body, failing on anything that is not one JSON object per line. */
async function* ndjsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<Line> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      expect(text, 'a blank line').not.toBe('');
      const line = JSON.parse(text) as Line;
      expect(typeof line.type).toBe('string');
      yield line;
    }
  }
  expect(buffered, 'text after the last newline').toBe('');
}

function execute(body: Record<string, unknown>): Promise<Response> {
  return fetch(`${port.url}/execute`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
}

/** Runs code and returns every line, checking the answer's status, type and last line. */
async function run(code: string, extra: Record<string, unknown> = {}): Promise<Line[]> {
  const response = await execute({ code, ...extra });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
  const lines: Line[] = [];
  for await (const line of ndjsonLines(response.body!)) lines.push(line);
  expect(lines.at(-1)).toEqual({ type: 'end_of_execution' });
  return lines;
}

const mainText = (lines: Line[]) => lines.find((l) => l.type === 'result' && l.is_main_result)?.text;

async function request(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const response = await fetch(`${port.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

/**
 * A new local port: connections kept alive into a sandbox that was put to sleep meanwhile stay
 * frozen with it, while a new connection through the proxy wakes it.
 */
async function reconnect(): Promise<void> {
  await port.close();
  port = await localPortTo(sandbox, CODE_INTERPRETER_PORT);
}

/** Once the bridge answers (it starts with the sandbox, its kernel a moment later). */
const bridgeUp = () =>
  until('the code interpreter to answer', () => fetch(`${port.url}/health`, { signal: AbortSignal.timeout(15_000) }).then((r) => r.ok, () => false), {
    timeoutMs: 120_000,
    intervalMs: 500,
  });

beforeAll(async () => {
  client = burrow.client();
  sandbox = await client.createSandbox(name, { environment: { FROM_SANDBOX: 'sandbox-wide' } });
  port = await localPortTo(sandbox, CODE_INTERPRETER_PORT);
  await bridgeUp();
});

afterAll(async () => {
  await port?.close();
});

describe('/execute', () => {
  it('answers 1+1 with the main result 2, the execution count, then the end', async () => {
    const lines = await run('1+1');
    expect(lines).toContainEqual({ type: 'number_of_executions', execution_count: expect.any(Number) });
    expect(lines).toContainEqual({ type: 'result', text: '2', is_main_result: true });
    expect(mainText(lines)).toBe('2');
  });

  it('streams stdout while the code still runs, and stderr apart', async () => {
    const response = await execute({
      code: [
        'import os, sys, time',
        "print('first', flush=True)",
        "print('to stderr', file=sys.stderr, flush=True)",
        "while not os.path.exists('/tmp/go'): time.sleep(0.05)",
        "print('second')",
      ].join('\n'),
    });
    const seen: Line[] = [];
    for await (const line of ndjsonLines(response.body!)) {
      seen.push(line);
      // The code waits for this file: 'second' can only come after the test read 'first'.
      if (line.type === 'stdout' && line.text === 'first\n') await sandbox.exec('touch', ['/tmp/go']);
    }
    // The kernel may send one print as several chunks ("second", then "\n"): adjacent chunks
    // of one stream are joined, what matters is what came when, and on which stream.
    const outputs: Array<[string, string]> = [];
    for (const l of seen) {
      if (l.type !== 'stdout' && l.type !== 'stderr') continue;
      const last = outputs.at(-1);
      if (last?.[0] === l.type) last[1] += String(l.text);
      else outputs.push([l.type, String(l.text)]);
    }
    expect(outputs).toEqual([
      ['stdout', 'first\n'],
      ['stderr', 'to stderr\n'],
      ['stdout', 'second\n'],
    ]);
    expect(seen.at(-1)).toEqual({ type: 'end_of_execution' });
  });

  it('reports an exception as an error line with its traceback, not as a failed request', async () => {
    const lines = await run('1/0');
    const errors = lines.filter((l) => l.type === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ name: 'ZeroDivisionError', value: 'division by zero' });
    // IPython colours its tracebacks (as E2B's do): the text without the colour codes.
    const traceback = (errors[0]!.traceback as string).replace(/\x1b\[[0-9;]*m/g, '');
    expect(traceback).toContain('ZeroDivisionError');
    expect(traceback).toMatch(/----> 1 1\/0/);
  });

  it('keeps variables from one call to the next, counting executions', async () => {
    const first = await run('x = 41');
    expect(first.filter((l) => l.type === 'result')).toEqual([]);
    const second = await run('x + 1');
    expect(mainText(second)).toBe('42');
    const count = (lines: Line[]) => lines.find((l) => l.type === 'number_of_executions')!.execution_count as number;
    expect(count(second)).toBe(count(first) + 1);
  });

  it('returns a matplotlib chart as a result with a base64 PNG', async () => {
    const lines = await run(['import matplotlib.pyplot as plt', 'plt.plot([1, 2, 3], [1, 4, 9])', "plt.title('squares')", 'plt.show()'].join('\n'));
    const charts = lines.filter((l) => l.type === 'result' && typeof l.png === 'string');
    expect(charts).toHaveLength(1);
    expect(charts[0]!.is_main_result).toBe(false);
    const png = Buffer.from(charts[0]!.png as string, 'base64');
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.length).toBeGreaterThan(1000);
  });

  it('returns a pandas DataFrame as text and HTML', async () => {
    const lines = await run("import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': [3, 4]})");
    const result = lines.find((l) => l.type === 'result' && l.is_main_result)!;
    expect(result.text).toMatch(/a\s+b\s*\n0\s+1\s+3/);
    expect(result.html).toEqual(expect.stringContaining('<table'));
  });

  it('runs as the sandbox user in /home/user, with the sandbox environment', async () => {
    const lines = await run("import os\n(os.getuid(), os.getcwd(), os.environ.get('FROM_SANDBOX'))");
    expect(mainText(lines)).toBe("(1000, '/home/user', 'sandbox-wide')");
  });

  it('sets env_vars for one call only', async () => {
    const code = "import os\nprint(os.environ.get('GREETING', 'unset'), os.environ.get('FROM_SANDBOX', 'unset'))";
    const stdout = (lines: Line[]) => lines.filter((l) => l.type === 'stdout').map((l) => l.text).join('');
    expect(stdout(await run(code, { env_vars: { GREETING: "it's \"me\"", FROM_SANDBOX: 'overridden' } }))).toBe('it\'s "me" overridden\n');
    expect(stdout(await run(code))).toBe('unset sandbox-wide\n');
  });

  it(
    'sends keepalive lines while the code is silent for long',
    async () => {
      const lines = await run("import time\ntime.sleep(40)\n'done'");
      expect(lines.filter((l) => l.type === 'keepalive').length).toBeGreaterThanOrEqual(1);
      expect(mainText(lines)).toBe('done');
    },
    120_000,
  );
});

describe('/contexts', () => {
  it('lists the default context', async () => {
    const list = await request('GET', '/contexts');
    expect(list.status).toBe(200);
    expect(JSON.parse(list.text)).toContainEqual({ id: expect.any(String), language: 'python', cwd: '/home/user' });
  });

  it('creates a context with its own working directory and variables, and restarts and deletes it', async () => {
    const created = await request('POST', '/contexts', { cwd: '/tmp' });
    expect(created.status).toBe(200);
    const context = JSON.parse(created.text) as { id: string; language: string; cwd: string };
    expect(context).toEqual({ id: expect.any(String), language: 'python', cwd: '/tmp' });
    expect(JSON.parse((await request('GET', '/contexts')).text)).toContainEqual(context);

    expect(mainText(await run('import os\nos.getcwd()', { context_id: context.id }))).toBe('/tmp');
    await run('y = 7', { context_id: context.id });
    expect(mainText(await run('y * 6', { context_id: context.id }))).toBe('42');
    // The default context has variables of its own.
    expect((await run('y')).find((l) => l.type === 'error')).toMatchObject({ name: 'NameError' });

    expect((await request('POST', `/contexts/${context.id}/restart`)).status).toBe(204);
    expect((await run('y', { context_id: context.id })).find((l) => l.type === 'error')).toMatchObject({ name: 'NameError' });
    expect(mainText(await run('import os\nos.getcwd()', { context_id: context.id }))).toBe('/tmp');

    expect((await request('DELETE', `/contexts/${context.id}`)).status).toBe(204);
    expect(JSON.parse((await request('GET', '/contexts')).text)).not.toContainEqual(context);
    expect(await request('POST', '/execute', { code: '1', context_id: context.id })).toEqual({ status: 404, text: `Context ${context.id} not found` });
  });

  it('ends an execution running in a context that is restarted, with an error line', async () => {
    const context = JSON.parse((await request('POST', '/contexts', {})).text) as { id: string };
    const response = await execute({ code: "print('looping', flush=True)\nwhile True: pass", context_id: context.id });
    const seen: Line[] = [];
    for await (const line of ndjsonLines(response.body!)) {
      seen.push(line);
      if (line.type === 'stdout') expect((await request('POST', `/contexts/${context.id}/restart`)).status).toBe(204);
    }
    expect(seen.find((l) => l.type === 'error')).toMatchObject({ name: 'ContextRestarting' });
    expect(seen.at(-1)).toEqual({ type: 'end_of_execution' });
    expect(mainText(await run('1+2', { context_id: context.id }))).toBe('3');
    await request('DELETE', `/contexts/${context.id}`);
  });
});

describe('a caller that goes away', () => {
  it('interrupts its code, so that the next call in the context runs', async () => {
    const context = JSON.parse((await request('POST', '/contexts', {})).text) as { id: string };
    const abort = new AbortController();
    const response = await fetch(`${port.url}/execute`, {
      method: 'POST',
      body: JSON.stringify({ code: "print('spinning', flush=True)\nwhile True: pass", context_id: context.id }),
      signal: abort.signal,
    });
    const reader = response.body!.getReader();
    let seen = '';
    while (!seen.includes('spinning')) seen += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    expect(mainText(await run('1+1', { context_id: context.id }))).toBe('2');
    await request('DELETE', `/contexts/${context.id}`);
  });
});

describe('bad input', () => {
  it('answers 404 for an unknown context, on every context route', async () => {
    for (const [method, path] of [
      ['POST', '/contexts/nope/restart'],
      ['DELETE', '/contexts/nope'],
    ] as const) {
      expect(await request(method, path)).toEqual({ status: 404, text: 'Context nope not found' });
    }
    expect((await request('GET', '/nowhere')).status).toBe(404);
  });

  it('answers 400 for a body that is not a request, and changes nothing', async () => {
    const before = (await request('GET', '/contexts')).text;
    expect((await request('POST', '/execute', 'not json')).status).toBe(400);
    expect((await request('POST', '/execute', { code: 1 })).status).toBe(400);
    expect((await request('POST', '/execute', { code: '1', language: 'python', context_id: 'x' })).status).toBe(400);
    expect((await request('POST', '/execute', { code: '1', language: 'r' })).text).toMatch(/language 'r' is not available/);
    expect((await request('POST', '/execute', { code: '1', env_vars: { 'A=B': 'x' } })).status).toBe(400);
    expect((await request('POST', '/contexts', { cwd: 'relative' })).status).toBe(400);
    expect((await request('POST', '/contexts', { cwd: '/no/such/dir' })).status).toBe(400);
    expect((await request('POST', '/contexts', { language: 'javascript' })).status).toBe(400);
    expect((await request('GET', '/contexts')).text).toBe(before);
  });
});

describe('the bridge as a service', () => {
  it('is the sandbox user’s code-interpreter service', async () => {
    const service = await sandbox.services.get('code-interpreter');
    expect(service).toMatchObject({ name: 'code-interpreter', cmd: 'python3', state: { status: 'running' } });
    const owner = await sandbox.exec('sh', ['-c', 'ps -o user= -C python3 | sort -u']);
    expect(owner.stdout.trim()).toBe('user');
  });

  it('keeps its kernels, variables included, across a warm sleep', async () => {
    await run('kept = "through warm sleep"');
    await sandbox.sleep();
    await reconnect();
    expect(mainText(await run('kept'))).toBe('through warm sleep');
  }, 180_000);

  it('comes back after a cold sleep and wake, with fresh kernels', async () => {
    await sandbox.sleep({ cold: true });
    await sandbox.wake();
    await reconnect();
    await bridgeUp();
    expect((await run('kept')).find((l) => l.type === 'error')).toMatchObject({ name: 'NameError' });
    expect(mainText(await run('1+1'))).toBe('2');
  }, 240_000);

  it('comes back after a daemon restart', async () => {
    await burrow.stop('SIGKILL');
    await burrow.start();
    client = burrow.client();
    sandbox = client.sandbox(name);
    await reconnect();
    await until('the service to run again', () => sandbox.services.get('code-interpreter'), { accept: (s) => s.state.status === 'running' });
    await bridgeUp();
    expect(mainText(await run('2+3'))).toBe('5');
    // One bridge: the previous daemon's was stopped, not left beside the new one.
    const bridges = await sandbox.exec('sh', ['-c', 'ps -eo args | grep -c "^python3 /usr/local/lib/burrow/code-interpreter/bridge.py"']);
    expect(bridges.stdout.trim()).toBe('1');
  }, 300_000);

  it('comes with every fork', async () => {
    const checkpoint = await sandbox.createCheckpoint();
    const forkName = sandboxName('interp-fork');
    const fork = await sandbox.fork(checkpoint.id, forkName);
    const forkPort = await localPortTo(fork, CODE_INTERPRETER_PORT);
    try {
      await until('the fork’s code interpreter', () => fetch(`${forkPort.url}/health`).then((r) => r.ok, () => false), { timeoutMs: 120_000, intervalMs: 500 });
      const response = await fetch(`${forkPort.url}/execute`, { method: 'POST', body: JSON.stringify({ code: '6*7' }) });
      const lines: Line[] = [];
      for await (const line of ndjsonLines(response.body!)) lines.push(line);
      expect(mainText(lines)).toBe('42');
    } finally {
      await forkPort.close();
      await client.sandbox(forkName).delete();
    }
  }, 240_000);
});
