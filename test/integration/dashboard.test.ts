// The web dashboard end to end, in headless Chromium against a real `burrow serve` and real gVisor
// sandboxes: log in with a token, create a sandbox, use its terminal, checkpoint, write a file,
// restore and see the file gone; download a checkpoint as an OCI image; services, policy, URL;
// fork; the live list (warm, cold); re-attaching a terminal; CSRF and Origin checks; a token
// limited to one sandbox.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import WebSocket from 'ws';
import { attenuateToken } from '@burrow/sdk';
import { launchChromium, screenshot } from '../support/browser.js';
import { sandboxName } from '../support/instance.js';
import { useInstance } from '../support/use-instance.js';

const WAIT = { timeout: 90_000 };
const burrow = useInstance();
let browser: Browser | undefined;
let context: BrowserContext;
let page: Page;
/** Uncaught exceptions in the page: the dashboard must have none. */
const pageErrors: string[] = [];
const name = sandboxName('web');

beforeAll(async () => {
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

afterAll(async () => {
  // Each step runs even if another fails: no browser process and no sandbox may outlive the test.
  await browser?.close().catch(() => {});
});

/** What the terminal shows, one string per screen row. */
async function terminalLines(): Promise<string[]> {
  const text = await page.locator('.xterm-rows').innerText();
  return text.split('\n').map((l) => l.replace(/\u00a0/g, ' ').trimEnd());
}

async function untilTerminalShows(line: string | RegExp): Promise<void> {
  const matches = (l: string) => (typeof line === 'string' ? l === line : line.test(l));
  await expect.poll(async () => (await terminalLines()).some(matches), { timeout: WAIT.timeout, interval: 250 }).toBe(true);
}

async function typeInTerminal(text: string): Promise<void> {
  await page.locator('.xterm').click();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

describe('the dashboard', () => {
  it('serves its page and assets without a token, and nothing of the API', async () => {
    const index = await fetch(`${burrow.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toContain('text/html');
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await index.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect((await fetch(`${burrow.url}${script}`)).status).toBe(200);
    // The bundle is self-contained: no CDN or other origin is referenced by the page.
    expect(html).not.toMatch(/https?:\/\//);
    expect((await fetch(`${burrow.url}/v1/sprites`)).status).toBe(401);
  });

  it('refuses a wrong token with advice, then logs in with the real one', async () => {
    await page.goto(burrow.url);
    await page.getByLabel('API token').fill('burrow_not-the-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('not a burrow token').waitFor(WAIT);
    expect(await page.locator('.form-error').innerText()).toContain('admin.token');
    await screenshot(page, '01-login-refused');

    await page.getByLabel('API token').fill(burrow.token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Sandboxes' }).waitFor(WAIT);
    const cookie = (await context.cookies()).find((c) => c.name === 'burrow_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    // The cookie is a session id: the token stays on the server.
    expect(cookie!.value).not.toContain(burrow.token);
    // Page scripts cannot read the cookie.
    expect(await page.evaluate(() => document.cookie)).not.toContain('burrow_');
  });

  it('creates a sandbox and runs `echo hello` in its terminal', async () => {
    await page.getByPlaceholder('name, e.g. dev').fill(name);
    await page.getByRole('button', { name: 'Create sandbox' }).click();
    const row = page.locator(`tr[data-sandbox="${name}"]`);
    await row.locator('[data-state="running"]').waitFor(WAIT);
    await screenshot(page, '02-list');

    await row.getByRole('link', { name: 'Open' }).click();
    await page.locator('.terminal-status[data-state="connected"]').waitFor(WAIT);
    await typeInTerminal('echo hello');
    await untilTerminalShows('hello');
    await screenshot(page, '03-terminal');
  });

  it('restores a checkpoint: a file written after it is gone', async () => {
    await page.getByPlaceholder('comment (optional)').fill('before the file');
    await page.getByRole('button', { name: 'Create checkpoint' }).click();
    const checkpoint = page.locator('li[data-checkpoint]', { hasText: 'before the file' });
    await checkpoint.waitFor(WAIT);

    await typeInTerminal('echo data > ~/scratch.txt && ls ~/scratch.txt && echo written-$((40+2))');
    await untilTerminalShows('written-42');

    await checkpoint.getByRole('button', { name: 'Restore' }).click();
    await page.getByRole('dialog').getByText('running shells and programs end').waitFor(WAIT);
    await page.getByRole('dialog').getByRole('button', { name: 'Restore' }).click();
    // The restore restarts the sandbox, which ends the shell; a key opens a new one.
    await page.locator('.terminal-status[data-state="ended"]').waitFor(WAIT);
    await page.locator('.xterm').click();
    await page.keyboard.press('Enter');
    await page.locator('.terminal-status[data-state="connected"]').waitFor(WAIT);
    await typeInTerminal('ls ~/scratch.txt || echo missing-$((40+2))');
    await untilTerminalShows('missing-42');
    expect((await terminalLines()).some((l) => l.includes('No such file or directory'))).toBe(true);
    await screenshot(page, '04-restored');
  });

  it('downloads a checkpoint from the timeline as an OCI image archive, with the session cookie', async () => {
    const checkpoint = page.locator('li[data-checkpoint]', { hasText: 'before the file' });
    const id = await checkpoint.getAttribute('data-checkpoint');
    const [download] = await Promise.all([page.waitForEvent('download', WAIT), checkpoint.getByRole('link', { name: 'Export' }).click()]);
    expect(download.suggestedFilename()).toBe(`${name}-${id}.tar`);
    const stream = await download.createReadStream();
    const head: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of stream) {
      head.push(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      if (bytes >= 1024) break;
    }
    stream.destroy();
    const start = Buffer.concat(head);
    // An OCI image layout as a tar: its first entry is `oci-layout`.
    expect(start.subarray(0, 10).toString()).toBe('oci-layout');
    expect(start.subarray(512, 1024).toString()).toContain('"imageLayoutVersion":"1.0.0"');
    await download.delete();
  }, 600_000);

  it('re-attaches the same session after a reload, with its scrollback, and follows the window size', async () => {
    await typeInTerminal('echo before-$((6*7))-reload');
    await untilTerminalShows('before-42-reload');
    await page.reload();
    await page.locator('.terminal-status[data-state="connected"]').waitFor(WAIT);
    await untilTerminalShows('before-42-reload');

    await typeInTerminal('stty size');
    const size = async () => (await terminalLines()).filter((l) => /^\d+ \d+$/.test(l)).at(-1);
    await expect.poll(size, WAIT).toMatch(/^\d+ \d+$/);
    const before = await size();
    await page.setViewportSize({ width: 900, height: 700 });
    await expect.poll(() => page.locator('.xterm-rows > div').count(), WAIT).toBeLessThan(Number(before!.split(' ')[0]));
    await typeInTerminal('clear; stty size');
    await expect.poll(size, WAIT).not.toBe(before);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('shows the panels of features the server may lack without errors', async () => {
    for (const panel of ['services', 'policy', 'usage']) {
      const body = page.locator(`section.${panel} .panel-body`);
      await expect.poll(() => body.innerText(), WAIT).not.toBe('loading…');
      expect(await body.locator('.form-error').count()).toBe(0);
    }
    await screenshot(page, '05-sandbox-page');
  });

  it('runs Claude Code in YOLO mode in the terminal, as `burrow agent` does, and goes back to the same shell', async () => {
    await page.locator('.terminal-picker button[data-run="claude"]').click();
    await page.locator('.terminal-status[data-state="connected"]').waitFor(WAIT);
    await untilTerminalShows(/Welcome to Claude Code/);
    await screenshot(page, '05b-claude');
    const sessions = await burrow.client().sandbox(name).listSessions();
    expect(sessions.find((s) => s.is_active && s.command === 'claude --dangerously-skip-permissions')).toMatchObject({ tty: true, workdir: '/home/user' });

    await page.locator('.terminal-picker button[data-run="shell"]').click();
    await page.locator('.terminal-status[data-state="connected"]').waitFor(WAIT);
    await typeInTerminal('echo back-$((6*7))');
    await untilTerminalShows('back-42');
    // The shell it came back to is the one it left (re-attached), next to the agent still running.
    const after = (await burrow.client().sandbox(name).listSessions()).filter((s) => s.is_active).map((s) => s.command);
    expect(after.sort()).toEqual(['bash -l', 'claude --dangerously-skip-permissions']);
  });

  it('edits the network policy and gives a login link for the private URL', async () => {
    const policy = page.locator('section.policy');
    await policy.getByLabel('policy rules').fill('allow example.com\ninclude defaults');
    await policy.getByRole('button', { name: 'Save policy' }).click();
    await expect.poll(async () => (await burrow.client().sandbox(name).getNetworkPolicy()).rules, WAIT).toEqual([
      { domain: 'example.com', action: 'allow' },
      { include: 'defaults' },
    ]);
    await policy.getByText('Only what these rules allow is reachable').waitFor(WAIT);
    await policy.getByLabel('policy rules').fill('allow');
    await policy.getByRole('button', { name: 'Save policy' }).click();
    await page.locator('#notice').getByText('is not a rule').waitFor(WAIT);
    await page.locator('#notice').getByRole('button', { name: 'Dismiss' }).click();

    const url = page.locator('section.url');
    expect(await url.innerText()).toContain(`http://${name}.localhost`);
    await url.getByRole('button', { name: 'Get a login link' }).click();
    const link = url.locator('a[data-login-link]');
    await link.waitFor(WAIT);
    expect(await link.getAttribute('href')).toMatch(new RegExp(`^http://${name}\\.localhost:\\d+/__burrow/login\\?ticket=`));
  });

  it('shows a service with its state and logs, and stops it', async () => {
    await burrow.client().sandbox(name).services.put('ticker', { cmd: 'sh', args: ['-c', 'while :; do echo tick-$((6*7)); sleep 1; done'] });
    const panel = page.locator('section.services');
    const row = panel.locator('tr', { hasText: 'ticker' });
    await row.locator('.state-running').waitFor(WAIT);
    await row.getByRole('button', { name: 'Logs' }).click();
    await expect.poll(() => panel.locator('pre.logs').innerText(), WAIT).toContain('tick-42');
    await row.getByRole('button', { name: 'Stop' }).click();
    await row.locator('.state-stopped').waitFor(WAIT);
    expect((await burrow.client().sandbox(name).services.get('ticker')).state?.status).toBe('stopped');
  });

  it('forks a checkpoint into a new sandbox and opens it', async () => {
    const checkpoint = page.locator('li[data-checkpoint]', { hasText: 'before the file' });
    await checkpoint.getByRole('button', { name: 'Fork' }).click();
    const dialog = page.getByRole('dialog');
    const forkName = await dialog.getByLabel('Name of the new sandbox').inputValue();
    expect(forkName).toBe(`${name}-v1`);
    await dialog.getByRole('button', { name: 'Fork' }).click();
    await page.getByRole('heading', { name: forkName }).waitFor(WAIT);
    await page.locator('.terminal-status[data-state="connected"]').waitFor(WAIT);
    await typeInTerminal('ls ~/scratch.txt || echo fork-clean-$((40+2))');
    await untilTerminalShows('fork-clean-42');
  });

  it('keeps the list live: a sandbox made elsewhere appears, goes warm then cold, and goes once destroyed with confirmation', async () => {
    await page.goto(`${burrow.url}/#/`);
    await page.getByRole('heading', { name: 'Sandboxes' }).waitFor(WAIT);
    await page.locator('.live.on').waitFor(WAIT);
    const other = sandboxName('web-cli');
    // Made outside the browser, with short idle timeouts: it should be seen going warm, then cold.
    await burrow.client().createSandbox(other, { runtime: 'runc', sleep: { warm_after: '2s', cold_after: '3s' } });
    const row = page.locator(`tr[data-sandbox="${other}"]`);
    await row.waitFor(WAIT);
    await row.locator('[data-state="warm"]').waitFor(WAIT);
    await row.locator('[data-state="cold"]').waitFor(WAIT);

    await row.getByRole('button', { name: 'Destroy' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    expect(await row.count()).toBe(1);
    await row.getByRole('button', { name: 'Destroy' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Destroy' }).click();
    await row.waitFor({ state: 'detached', ...WAIT });
    await expect(burrow.client().sandbox(other).refresh()).rejects.toThrow();
    await screenshot(page, '06-list-after-destroy');
  });
});

describe('the dashboard login cookie', () => {
  it('does not let another site change anything or open a terminal', async () => {
    // Same origin, but without the dashboard's CSRF header: what a cross-site form could send.
    const status = await page.evaluate(async (sandbox) => {
      const r = await fetch(`/v1/sprites/${sandbox}/checkpoint`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      return r.status;
    }, name);
    expect(status).toBe(403);

    const cookie = (await context.cookies()).find((c) => c.name === 'burrow_session')!;
    const wsUrl = `${burrow.url.replace(/^http/, 'ws')}/v1/sprites/${name}/exec?cmd=true&tty=true`;
    const upgrade = (origin: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(wsUrl, { headers: { Cookie: `burrow_session=${cookie.value}`, Origin: origin } });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('error', () => resolve(0));
      });
    expect(await upgrade('http://evil.example')).toBe(403);
    expect(await upgrade(burrow.url)).toBe(101);
  });

  it('leaves Bearer tokens working as before, and logging out forgets the cookie', async () => {
    const list = await fetch(`${burrow.url}/v1/sprites`, { headers: { Authorization: `Bearer ${burrow.token}` } });
    expect(list.status).toBe(200);
    const session = (await context.cookies()).find((c) => c.name === 'burrow_session')!;
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('API token').waitFor(WAIT);
    expect((await context.cookies()).find((c) => c.name === 'burrow_session')).toBeUndefined();
    // A copy of the cookie kept elsewhere opens nothing either: the session ended on the server.
    const replayed = await fetch(`${burrow.url}/v1/sprites`, { headers: { Cookie: `burrow_session=${session.value}` } });
    expect(replayed.status).toBe(401);
    expect(pageErrors).toEqual([]);
  });

  it('works with a token limited to one sandbox, and explains what that token may not do', async () => {
    const limited = attenuateToken(burrow.token, { sandbox: name, ops: ['read', 'exec'] });
    const own = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const p = await own.newPage();
      p.on('pageerror', (e) => pageErrors.push(e.message));
      await p.goto(burrow.url);
      await p.getByLabel('API token').fill(limited);
      await p.getByRole('button', { name: 'Log in' }).click();
      // It may not list every sandbox, so the list offers to open one by name.
      await p.getByPlaceholder('sandbox name').fill(name);
      await p.getByRole('button', { name: 'Open sandbox' }).click();
      await p.locator('.terminal-status[data-state="connected"]').waitFor(WAIT);
      await p.locator('.xterm').click();
      await p.keyboard.type('echo scoped-$((6*7))');
      await p.keyboard.press('Enter');
      await expect.poll(async () => (await p.locator('.xterm-rows').innerText()).includes('scoped-42'), WAIT).toBe(true);

      await p.getByRole('button', { name: 'Create checkpoint' }).click();
      const notice = p.locator('#notice');
      await notice.waitFor(WAIT);
      expect(await notice.innerText()).toMatch(/checkpoint/);
      expect(await notice.innerText()).not.toContain('{');
      expect(await notice.innerText()).toContain('log in with one that does');
      await screenshot(p, '07-limited-token');
      expect(pageErrors).toEqual([]);
    } finally {
      await own.close();
    }
  });
});
