// Consoles and detachable sessions over the exec WebSocket (spec 3.3-3.10), against real gVisor
// sandboxes: a real terminal inside, resizes, full-screen programs, detach and re-attach with
// scrollback, several clients, kill.
import { beforeAll, describe, expect, it } from 'vitest';
import { ExecSocket } from '../support/exec-socket.js';
import { sandboxName } from '../support/instance.js';
import { useInstance } from '../support/use-instance.js';

const burrow = useInstance();
const name = sandboxName('tty');
const exec = (query: string) => ExecSocket.open(burrow, `/v1/sprites/${name}/exec?${query}`);

async function api(method: string, path: string) {
  const response = await fetch(`${burrow.url}/v1/sprites/${name}${path}`, {
    method,
    headers: { Authorization: `Bearer ${burrow.token}` },
  });
  return { status: response.status, text: await response.text() };
}

beforeAll(async () => {
  await burrow.client().createSandbox(name);
});

describe('a TTY exec', () => {
  it('runs on a real terminal that follows resizes and passes UTF-8 through', async () => {
    const s = await exec('cmd=bash&tty=true&rows=30&cols=90');
    expect(await s.sessionInfo()).toMatchObject({ type: 'session_info', tty: true, rows: 30, cols: 90 });
    s.send(Buffer.from('tty; stty size; echo "é€😀"\n'));
    await s.until(() => s.text().includes('30 90'));
    expect(s.text()).toMatch(/\/dev\/pts\/\d+/);
    s.json({ type: 'resize', rows: 50, cols: 132 });
    await new Promise((r) => setTimeout(r, 300));
    s.send(Buffer.from('stty size\n'));
    await s.until(() => s.text().includes('50 132'));
    expect(s.text()).toContain('é€😀');
    s.send(Buffer.from('exit 3\n'));
    await s.closed();
    expect(s.notices().at(-1)).toEqual({ type: 'exit', exit_code: 3 });
    expect(s.closeCode).toBe(4003);
  });

  it('ignores nonsense resizes with an error message and keeps the session', async () => {
    const s = await exec('cmd=bash&tty=true');
    s.json({ type: 'resize', rows: 0, cols: -5 });
    s.json({ type: 'resize', rows: 'many', cols: 80 });
    await s.until(() => s.notices().filter((n) => n.type === 'error').length === 2);
    s.send(Buffer.from('stty size; exit\n'));
    await s.closed();
    expect(s.text()).toContain('24 80');
    expect(s.closeCode).toBe(1000);
  });

  it('runs full-screen programs: vim and top draw and quit', async () => {
    const vim = await exec('cmd=vi&cmd=/tmp/note&tty=true');
    await new Promise((r) => setTimeout(r, 1500));
    vim.send(Buffer.from('ihello from vim\x1b:wq\r'));
    await vim.closed();
    expect(vim.closeCode).toBe(1000);
    const check = await burrow.client().sandbox(name).exec('cat', ['/tmp/note']);
    expect(check.stdout).toBe('hello from vim\n');

    const top = await exec('cmd=top&tty=true&rows=20&cols=100');
    await top.until(() => top.text().includes('load average'));
    top.send(Buffer.from('q'));
    await top.closed();
    expect(top.closeCode).toBe(1000);
  });
});

describe('detachable sessions', () => {
  it('keep running when the client leaves, and replay the scrollback on re-attach', async () => {
    const first = await exec('cmd=bash&tty=true');
    const id = String((await first.sessionInfo()).session_id);
    first.send(Buffer.from('echo before-detach; sleep 1; echo while-away\n'));
    await first.until(() => first.text().includes('before-detach\r\n'));
    first.close();
    await new Promise((r) => setTimeout(r, 2000));

    const listed = JSON.parse((await api('GET', '/exec')).text);
    expect(listed.sessions).toContainEqual(expect.objectContaining({ id, is_active: true, tty: true, command: 'bash' }));

    const again = await ExecSocket.open(burrow, `/v1/sprites/${name}/exec/${id}`);
    expect(await again.sessionInfo()).toMatchObject({ type: 'session_info', session_id: id, tty: true });
    await again.until(() => again.text().includes('while-away'));
    expect(again.text()).toContain('before-detach');

    // A second client sees the same live output.
    const other = await ExecSocket.open(burrow, `/v1/sprites/${name}/exec?id=${id}`);
    again.send(Buffer.from('echo shared-$((6*7))\n'));
    await other.until(() => other.text().includes('shared-42'));
    await again.until(() => again.text().includes('shared-42'));
    again.send(Buffer.from('exit 5\n'));
    await Promise.all([again.closed(), other.closed()]);
    expect(again.closeCode).toBe(4005);
    expect(other.notices().at(-1)).toEqual({ type: 'exit', exit_code: 5 });
  });

  it('keep their final output and exit code after they end', async () => {
    const s = await exec(`cmd=sh&cmd=-c&cmd=${encodeURIComponent('echo out; echo err >&2; exit 9')}&detachable=true`);
    const id = String((await s.sessionInfo()).session_id);
    await s.closed();
    const late = await ExecSocket.open(burrow, `/v1/sprites/${name}/exec/${id}`);
    await late.closed();
    const frames = late.messages.filter((m) => m.binary).map((m) => m.data);
    expect(frames.map((f) => f[0])).toEqual([1, 2, 3]);
    expect(Buffer.concat(frames.slice(0, 2).map((f) => f.subarray(1))).toString()).toBe('out\nerr\n');
    expect(frames[2]).toEqual(Buffer.of(3, 9));
  });

  it('can be killed, with the NDJSON events, and are then gone (410)', async () => {
    const s = await exec(`cmd=sh&cmd=-c&cmd=${encodeURIComponent('trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done')}&detachable=true`);
    const id = String((await s.sessionInfo()).session_id);
    await s.until(() => s.messages.some((m) => m.binary && m.data.subarray(1).toString() === 'ready\n'));
    const killed = await api('POST', `/exec/${id}/kill?signal=TERM&timeout=5s`);
    expect(killed.status).toBe(200);
    const events = killed.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => e.type)).toEqual(['signal', 'exited', 'complete']);
    expect(events.at(-1)).toMatchObject({ exit_code: 42 });
    await s.closed();
    expect((await api('POST', `/exec/${id}/kill`)).status).toBe(410);
  });

  it('escalate to SIGKILL when the signal is ignored past the timeout', async () => {
    const s = await exec(`cmd=sh&cmd=-c&cmd=${encodeURIComponent('trap "" TERM; echo ready; while :; do sleep 0.1; done')}&detachable=true`);
    const id = String((await s.sessionInfo()).session_id);
    await s.until(() => s.messages.some((m) => m.binary && m.data.subarray(1).toString() === 'ready\n'));
    const killed = await api('POST', `/exec/${id}/kill?signal=SIGTERM&timeout=1s`);
    const events = killed.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => e.type)).toEqual(['signal', 'timeout', 'killed', 'complete']);
    expect(events.at(-1)).toMatchObject({ exit_code: 137 });
  });

  it('answers 404 for an unknown session, before any upgrade', async () => {
    await expect(ExecSocket.open(burrow, `/v1/sprites/${name}/exec/99999`)).rejects.toThrow(/404/);
    expect((await api('POST', '/exec/99999/kill')).status).toBe(404);
  });
});

describe('the SDK and CLI against a real sandbox', () => {
  it('create, list, attach to and kill sessions through the SDK', async () => {
    const sandbox = burrow.client().sandbox(name);
    const session = await sandbox.createSession('bash', [], { tty: true, rows: 33, cols: 77 });
    let seen = '';
    session.stdout.on('data', (b: Buffer) => (seen += b.toString()));
    session.stdin.write('stty size\n');
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (seen.includes('33 77')) clearInterval(poll), resolve();
      }, 50);
    });
    session.detach();
    const listed = await sandbox.listSessions();
    expect(listed.find((s) => s.id === session.sessionId)).toMatchObject({ tty: true, is_active: true });

    const again = await sandbox.attachSession(session.sessionId!);
    let replay = '';
    again.stdout.on('data', (b: Buffer) => (replay += b.toString()));
    await new Promise((r) => setTimeout(r, 500));
    expect(replay).toContain('33 77');
    expect(await sandbox.killSession(session.sessionId!, { signal: 'SIGKILL', timeout: '5s' })).toBe(137);
  });

  it('`burrow console` runs a login shell and exits with its status', async () => {
    const { spawnSync } = await import('node:child_process');
    const { CLI } = await import('../support/instance.js');
    const result = spawnSync(process.execPath, [CLI, 'console', name], {
      input: 'echo "inside $(hostname)"; exit 4\n',
      env: { ...process.env, ...burrow.cliEnv() },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.stdout).toContain(`inside ${name}`);
    expect(result.status).toBe(4);
  });
});
