// Sandbox URLs, the TCP proxy and the port watch against real gVisor sandboxes: Host-header
// routing on the API listener (`<name>` and `<port>-<name>`), private and public auth, login links, WebSocket and streaming
// pass-through, the 502 page, `burrow proxy`, and port_opened / port_closed.
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BurrowClient, type PortEvent } from '@burrow/sdk';
import { APP_SERVER } from '../support/app-server.js';
import { CLI, sandboxName } from '../support/instance.js';
import { requestSandboxUrl, type Answer } from '../support/sandbox-url.js';
import { useInstance } from '../support/use-instance.js';

const LOGIN_PATH = '/__burrow/login';

const burrow = useInstance();
let client: BurrowClient;
const app = sandboxName('url-app');
const empty = sandboxName('url-empty');

/** A request to the API listener with the Host of a sandbox URL. */
function get(name: string, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Answer> {
  return requestSandboxUrl(burrow.url, name, path, headers, method, body);
}

async function startApp(name: string, port = 8080): Promise<void> {
  await client.sandbox(name).exec('sh', ['-c', `setsid node -e "$APP" > /tmp/app-${port}.log 2>&1 < /dev/null & echo $! > /tmp/app-${port}.pid`], {
    env: { APP: APP_SERVER, PORT: String(port) },
  });
  for (let i = 0; i < 200; i++) {
    if ((await client.sandbox(name).exec('cat', [`/tmp/app-${port}.log`])).stdout.includes('listening')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the app on port ${port} did not start in ${name}`);
}

beforeAll(async () => {
  client = burrow.client();
  await Promise.all([client.createSandbox(app), client.createSandbox(empty)]);
  await startApp(app);
});

describe('a private sandbox URL (auth sprite, the default)', () => {
  it('is the sandbox name under localhost on the API port', async () => {
    const info = await client.sandbox(app).refresh();
    expect(info.url).toBe(`http://${app}.localhost:${new URL(burrow.url).port}`);
  });

  it('refuses a request without credentials with a page that says how to log in', async () => {
    const r = await get(app, '/');
    expect(r.status).toBe(401);
    expect(r.body).toContain(`burrow url ${app}`);
  });

  it('serves the app (bound to 127.0.0.1 inside) to the API token, which the app never sees', async () => {
    const r = await get(app, '/', { Authorization: `Bearer ${burrow.token}` });
    expect(r).toMatchObject({ status: 200, body: `page of ${app} auth=- cookie=-\n` });
  });

  it('logs a browser in through a login link: cookie for this sandbox only, hidden from the app', async () => {
    const { login_url } = await client.sandbox(app).urlLogin();
    const link = new URL(login_url);
    const login = await get(app, `${link.pathname}${link.search}`);
    expect(login.status).toBe(302);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    expect(cookie).toMatch(/^burrow_url_auth=/);
    const page = await get(app, '/', { Cookie: `${cookie}; theme=dark` });
    expect(page).toMatchObject({ status: 200, body: `page of ${app} auth=- cookie=theme=dark\n` });
    expect((await get(empty, '/', { Cookie: cookie })).status).toBe(401);
    expect((await get(app, `${link.pathname}?ticket=1.${'A'.repeat(43)}`)).status).toBe(403);
    // A link for one sandbox does not log in to another.
    expect((await get(empty, `${link.pathname}${link.search}`)).status).toBe(403);
  });

  it('passes WebSocket upgrades through', async () => {
    const { port } = new URL(burrow.url);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { Host: `${app}.localhost:${port}`, Authorization: `Bearer ${burrow.token}` } });
    const reply = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('hi'));
      ws.on('message', (d) => resolve(d.toString()));
      ws.on('error', reject);
    });
    ws.close();
    expect(reply).toBe('echo:hi');
  });

  it('streams response bodies as they are written, and request bodies through', async () => {
    const { port } = new URL(burrow.url);
    const firstChunk = await new Promise<{ chunk: string; ended: boolean }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/stream', headers: { host: `${app}.localhost:${port}`, Authorization: `Bearer ${burrow.token}` } }, (res) => {
        let ended = false;
        res.on('end', () => (ended = true));
        res.once('data', (c: Buffer) => resolve({ chunk: c.toString(), ended }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(firstChunk).toEqual({ chunk: 'first\n', ended: false });
    const big = 'x'.repeat(3 << 20);
    const echo = await get(app, '/echo', { Authorization: `Bearer ${burrow.token}` }, 'POST', big);
    expect(echo.body.length).toBe(big.length);
  });

  it('answers 502 with a page when nothing listens on port 8080', async () => {
    const r = await get(empty, '/', { Authorization: `Bearer ${burrow.token}` });
    expect(r.status).toBe(502);
    expect(r.body).toContain('Nothing is listening on port 8080');
  });

  it('answers 404 for a sandbox that does not exist', async () => {
    expect((await get(sandboxName('nope'), '/', { Authorization: `Bearer ${burrow.token}` })).status).toBe(404);
  });

  it('serves any other port of the sandbox at <port>-<name>, to the same credentials', async () => {
    await startApp(app, 8001);
    const token = { Authorization: `Bearer ${burrow.token}` };
    expect((await get(`8001-${app}`, '/')).status).toBe(401);
    expect(await get(`8001-${app}`, '/', token)).toMatchObject({ status: 200, body: `page of ${app} auth=- cookie=-\n` });
    const nothing = await get(`8002-${app}`, '/', token);
    expect(nothing.status).toBe(502);
    expect(nothing.body).toContain('port 8002');
    expect((await get(`8001-${sandboxName('nope')}`, '/', token)).status).toBe(404);
  });

  it('checks every request of a keep-alive connection, wherever it goes', async () => {
    // One socket for all: the first request is relayed byte for byte, and each later one must
    // be allowed again, or it is answered by the API or the refusal page, in order.
    const { port } = new URL(burrow.url);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const on = (host: string, path: string, headers: Record<string, string> = {}) =>
      new Promise<Answer & { socket: number }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, agent, headers: { host, ...headers } }, (res) => {
          const socket = res.socket.localPort ?? 0;
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, socket }));
        });
        req.on('error', reject);
        req.end();
      });
    const token = { Authorization: `Bearer ${burrow.token}` };
    const site = `${app}.localhost:${port}`;
    try {
      const answers = [
        await on(site, '/', { ...token, Cookie: 'burrow_url_auth=forged; theme=dark', 'X-Forwarded-For': '203.0.113.9' }),
        await on(site, '/'),
        await on(site, '/', token),
        await on(`127.0.0.1:${port}`, `/v1/sprites/${app}`, token),
        await on(site, '/again', token),
      ];
      expect(answers.map((a) => a.status)).toEqual([200, 401, 200, 200, 200]);
      expect(answers[0]!.body).toBe(`page of ${app} auth=- cookie=theme=dark\n`);
      expect(answers[1]!.body).toContain(`burrow url ${app}`);
      expect(JSON.parse(answers[3]!.body)).toMatchObject({ name: app });
      expect(answers[4]!.body).toBe(`page of ${app} auth=- cookie=-\n`);
      expect(new Set(answers.map((a) => a.socket)).size).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it('drops a WebSocket opened with a token when the token is revoked', async () => {
    const { port } = new URL(burrow.url);
    const minted = await client.createToken({ description: 'url websocket', caveats: [`sandbox = ${app}`] });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { Host: `${app}.localhost:${port}`, Authorization: `Bearer ${minted.token}` } });
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('before'));
      ws.once('message', (d) => resolve(d.toString()));
      ws.on('error', reject);
    });
    expect(echoed).toBe('echo:before');
    const closed = new Promise<string>((resolve) => ws.once('close', () => resolve('closed')));
    await client.revokeToken(minted.id);
    expect(await Promise.race([closed, new Promise((r) => setTimeout(() => r('still open'), 10_000))])).toBe('closed');
  });

  it('stops opening to a token the moment it is revoked, even on a connection it opened', async () => {
    const { port } = new URL(burrow.url);
    const minted = await client.createToken({ description: 'url revoke test', caveats: [`sandbox = ${app}`] });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const open = () =>
      new Promise<number>((resolve, reject) => {
        const headers = { host: `${app}.localhost:${port}`, authorization: `Bearer ${minted.token}` };
        const req = request({ host: '127.0.0.1', port, path: '/', agent, headers }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      expect(await open()).toBe(200);
      await client.revokeToken(minted.id);
      expect(await open()).toBe(401);
    } finally {
      agent.destroy();
    }
  });
});

describe('burrow credentials on the way to the app', () => {
  it('never reach the app on a keep-alive connection, relayed byte for byte or by the HTTP server; the app keeps its own', async () => {
    const { port } = new URL(burrow.url);
    const site = `${app}.localhost:${port}`;
    const forOther = await client.createToken({ description: 'a token for another sandbox', caveats: [`sandbox = ${empty}`] });
    const forThis = await client.createToken({ description: 'a token for this sandbox', caveats: [`sandbox = ${app}`] });
    const login = await loginCookie(app);
    const dashboard = await dashboardCookie();
    // The app's cookies around burrow's, in the spacing a client chose: they must arrive as they were.
    const cookie = `theme=dark; ${login}; sid=abc;${dashboard};  burrow_other=1; lang=en`;
    const appCookies = 'theme=dark; sid=abc; lang=en';
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const on = (path: string, headers: Record<string, string>) =>
      new Promise<Answer & { socket: number }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, agent, headers: { host: site, ...headers } }, (res) => {
          const socket = res.socket.localPort ?? 0;
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, socket }));
        });
        req.on('error', reject);
        req.end();
      });
    const round = async () => [
      await on('/', { Authorization: `Bearer ${forOther.token}`, Cookie: cookie }),
      await on('/', { Authorization: `Bearer ${forThis.token}`, Cookie: cookie }),
      await on('/', { Authorization: 'Basic YXBwOnNlY3JldA==', Cookie: cookie }),
      await on('/', { Authorization: 'Bearer the-apps-own-token', Cookie: cookie }),
      await on('/', { Authorization: `bearer ${forThis.token}`, Cookie: `${dashboard}; burrow_other=1` }),
    ];
    const expected = [
      `page of ${app} auth=- cookie=${appCookies}\n`,
      `page of ${app} auth=- cookie=${appCookies}\n`,
      `page of ${app} auth=Basic YXBwOnNlY3JldA== cookie=${appCookies}\n`,
      `page of ${app} auth=Bearer the-apps-own-token cookie=${appCookies}\n`,
      `page of ${app} auth=- cookie=-\n`,
    ];
    try {
      // The first round is relayed byte for byte; a login page (which burrow answers itself) hands
      // the connection to the HTTP server, which relays the second round.
      const direct = await round();
      const handOff = await on(`${LOGIN_PATH}?ticket=nope`, { Cookie: cookie });
      const served = await round();
      expect(direct.map((a) => a.body)).toEqual(expected);
      expect(handOff.status).toBe(403);
      expect(served.map((a) => a.body)).toEqual(expected);
      expect(new Set([...direct, handOff, ...served].map((a) => a.socket)).size).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it('never reach the app through a WebSocket; the app keeps its own', async () => {
    const forOther = await client.createToken({ description: 'a token for another sandbox', caveats: [`sandbox = ${empty}`] });
    const login = await loginCookie(app);
    const dashboard = await dashboardCookie();
    const seen = (headers: Record<string, string>) => {
      const { port } = new URL(burrow.url);
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { Host: `${app}.localhost:${port}`, ...headers } });
      return new Promise<{ authorization: string; cookie: string }>((resolve, reject) => {
        ws.on('upgrade', (res) => {
          resolve({
            authorization: decodeURIComponent(String(res.headers['x-seen-authorization'])),
            cookie: decodeURIComponent(String(res.headers['x-seen-cookie'])),
          });
          ws.terminate();
        });
        ws.on('error', reject);
      });
    };
    expect(await seen({ Authorization: `Bearer ${burrow.token}`, Cookie: `${dashboard}; theme=dark` })).toEqual({ authorization: '-', cookie: 'theme=dark' });
    expect(await seen({ Authorization: `Bearer ${forOther.token}`, Cookie: `a=1; ${login}` })).toEqual({ authorization: '-', cookie: 'a=1' });
    expect(await seen({ Authorization: 'Basic YXBwOnNlY3JldA==', Cookie: `${login};a=1;${dashboard}` })).toEqual({
      authorization: 'Basic YXBwOnNlY3JldA==',
      cookie: 'a=1',
    });
  });
});

describe('a login to a sandbox URL', () => {
  it('is a new cookie for every login, good for a day', async () => {
    const { login_url } = await client.sandbox(app).urlLogin();
    const link = new URL(login_url);
    const first = await get(app, `${link.pathname}${link.search}`);
    const second = await get(app, `${link.pathname}${link.search}`);
    expect(first.headers['set-cookie']).toEqual([expect.stringMatching(/^burrow_url_auth=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=86400$/)]);
    const cookies = [first, second].map((r) => String(r.headers['set-cookie']).split(';')[0]!);
    expect(cookies[0]).not.toBe(cookies[1]);
    for (const cookie of cookies) expect((await get(app, '/', { Cookie: cookie })).status).toBe(200);
  });

  it('ends at logout, that login only', async () => {
    const [leaving, staying] = [await loginCookie(app), await loginCookie(app)];
    const out = await get(app, '/__burrow/logout', { Cookie: leaving });
    expect(out.status).toBe(200);
    expect(String(out.headers['set-cookie'])).toMatch(/^burrow_url_auth=; .*Max-Age=0$/);
    expect((await get(app, '/', { Cookie: leaving })).status).toBe(401);
    expect((await get(app, '/', { Cookie: staying })).status).toBe(200);
  });

  it('ends when the token that asked for the login link is revoked, and so does the link', async () => {
    const minted = await client.createToken({ description: 'url login revoke test', caveats: [`sandbox = ${app}`] });
    const limited = new BurrowClient({ baseURL: burrow.url, token: minted.token });
    const { login_url } = await limited.sandbox(app).urlLogin();
    const link = new URL(login_url);
    const cookie = String((await get(app, `${link.pathname}${link.search}`)).headers['set-cookie']).split(';')[0]!;
    const other = await loginCookie(app);
    expect((await get(app, '/', { Cookie: cookie })).status).toBe(200);
    await client.revokeToken(minted.id);
    expect((await get(app, '/', { Cookie: cookie })).status).toBe(401);
    expect((await get(app, `${link.pathname}${link.search}`)).status).toBe(403);
    // Logins made with other tokens stay.
    expect((await get(app, '/', { Cookie: other })).status).toBe(200);
  });
});

/** Logs in to a sandbox URL with a fresh login link; the cookie as a browser would send it. */
async function loginCookie(name: string): Promise<string> {
  const link = new URL((await client.sandbox(name).urlLogin()).login_url);
  const answer = await get(name, `${link.pathname}${link.search}`);
  expect(answer.status).toBe(302);
  return String(answer.headers['set-cookie']).split(';')[0]!;
}

/** Logs in to the dashboard with the admin token; the cookie as a browser would send it. */
async function dashboardCookie(): Promise<string> {
  const r = await fetch(`${burrow.url}/v1/dashboard/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-burrow-csrf': '1' },
    body: JSON.stringify({ token: burrow.token }),
  });
  expect(r.status).toBe(204);
  return r.headers.get('set-cookie')!.split(';')[0]!;
}

describe('a public sandbox URL', () => {
  it('opens without credentials after `burrow url update --auth public`', async () => {
    const out = await runCli(['url', 'update', app, '--auth', 'public']);
    expect(out).toContain('is now public');
    expect(await get(app, '/')).toMatchObject({ status: 200, body: `page of ${app} auth=- cookie=-\n` });
    expect((await runCli(['url', app])).trim()).toBe(`http://${app}.localhost:${new URL(burrow.url).port}`);
  });
});

describe('the TCP proxy', () => {
  it('connects to a port on the sandbox localhost and carries bytes both ways', async () => {
    const stream = await client.sandbox(app).openTcpProxy(8080);
    stream.write(`GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    let text = '';
    for await (const chunk of stream) text += (chunk as Buffer).toString();
    expect(text).toMatch(/^HTTP\/1.1 200/);
    expect(text).toContain(`page of ${app}`);
  });

  it('refuses ports nothing listens on, and hosts outside the sandbox', async () => {
    await expect(client.sandbox(app).openTcpProxy(9)).rejects.toThrow(/nothing is listening on port 9/);
    await expect(client.sandbox(app).openTcpProxy(80, '10.0.0.1')).rejects.toThrow(/only ports inside/);
  });

  it('`burrow proxy NAME LOCAL:REMOTE` listens locally and relays', async () => {
    const child = spawn(process.execPath, [CLI, 'proxy', app, '0:8080'], { env: { ...process.env, ...burrow.cliEnv() }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const local = await new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (b: Buffer) => {
          const m = /127\.0\.0\.1:(\d+) ->/.exec(b.toString());
          if (m) resolve(Number(m[1]));
        });
        child.on('exit', (code) => reject(new Error(`burrow proxy exited ${code}`)));
      });
      const text = await new Promise<string>((resolve, reject) => {
        const sock = connect(local, '127.0.0.1', () => sock.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
        let out = '';
        sock.on('data', (b) => (out += b.toString()));
        sock.on('end', () => resolve(out));
        sock.on('error', reject);
      });
      expect(text).toContain(`page of ${app}`);
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('the port watch', () => {
  it('lists listening ports with the pid inside that listens, then reports ports opened and closed', async () => {
    const pidOf = async (port: number) => Number((await client.sandbox(app).exec('cat', [`/tmp/app-${port}.pid`])).stdout.trim());
    const events: PortEvent[] = [];
    const watcher = client.sandbox(app).watchPorts((e) => events.push(e));
    try {
      const ports = await watcher.ready;
      expect(ports).toContainEqual({ type: 'tcp', port: 8080, address: '127.0.0.1', pid: await pidOf(8080) });
      await startApp(app, 8765);
      const pid = await pidOf(8765);
      expect(pid).toBeGreaterThan(1);
      await expect.poll(() => events.map((e) => `${e.type} ${e.port} ${e.pid}`), { timeout: 20_000 }).toContain(`port_opened 8765 ${pid}`);
      await client.sandbox(app).exec('sh', ['-c', 'kill $(cat /tmp/app-8765.pid)']);
      await expect.poll(() => events.map((e) => `${e.type} ${e.port} ${e.pid}`), { timeout: 20_000 }).toContain(`port_closed 8765 ${pid}`);
    } finally {
      watcher.close();
    }
  });
});

describe('port notices in exec sessions', () => {
  it('sends port_opened and port_closed, with the pid of the listener, to a running exec', async () => {
    const server =
      "const s = require('net').createServer().listen(8766, () => console.log('pid ' + process.pid)); setTimeout(() => s.close(), 3000); setTimeout(() => {}, 6000)";
    const proc = client.sandbox(app).spawn('node', ['-e', server]);
    const seen: string[] = [];
    let output = '';
    proc.stdout.on('data', (b: Buffer) => (output += b.toString()));
    proc.on('message', (m) => {
      if (typeof m === 'object' && typeof m.type === 'string' && m.type.startsWith('port_')) seen.push(`${m.type} ${m.port} ${m.pid}`);
    });
    expect(await proc.wait()).toBe(0);
    const pid = /pid (\d+)/.exec(output)?.[1];
    expect(pid).toBeDefined();
    expect(seen).toEqual([`port_opened 8766 ${pid}`, `port_closed 8766 ${pid}`]);
  });
});

async function runCli(args: string[]): Promise<string> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...burrow.cliEnv() }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  if (code !== 0) throw new Error(`burrow ${args.join(' ')} exited ${code}: ${err}`);
  return out;
}
