// A sandbox URL wakes its sandbox: a request to a cold (stopped) sandbox boots it, its service
// with `http_port` comes back, and the request is answered with the app's page, not a 502.
import { request } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BurrowClient } from '@burrow/sdk';
import { sandboxName } from '../support/instance.js';
import { useInstance } from '../support/use-instance.js';

const burrow = useInstance();
let client: BurrowClient;
const name = sandboxName('url-wake');

function get(path: string): Promise<{ status: number; body: string }> {
  const { port } = new URL(burrow.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: `${name}.localhost:${port}`, Authorization: `Bearer ${burrow.token}` } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  client = burrow.client();
  const sandbox = await client.createSandbox(name);
  await sandbox.exec('sh', ['-c', 'mkdir -p ~/site && echo "hello from the woken app" > ~/site/index.html']);
  await sandbox.services.put('web', { cmd: 'python3', args: ['-m', 'http.server', '3000', '--directory', '/home/user/site'], http_port: 3000 });
});

describe('a sandbox URL', () => {
  it('forwards to the service with http_port', async () => {
    await expect.poll(async () => (await get('/')).body, { timeout: 30_000 }).toBe('hello from the woken app\n');
  });

  it('wakes a cold sandbox and returns its page', async () => {
    const slept = await client.sandbox(name).sleep({ cold: true });
    expect(slept.status).toBe('cold');
    const r = await get('/');
    expect(r).toEqual({ status: 200, body: 'hello from the woken app\n' });
    expect((await client.sandbox(name).refresh()).status).toBe('running');
  });

  it('wakes a warm sandbox and returns its page', async () => {
    expect((await client.sandbox(name).sleep()).status).toBe('warm');
    expect(await get('/')).toEqual({ status: 200, body: 'hello from the woken app\n' });
  });
});
