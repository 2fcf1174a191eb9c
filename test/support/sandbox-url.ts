// A request to a sandbox URL (`<name>.localhost` on the API port) without DNS for *.localhost:
// the connection goes to the API listener with the sandbox's Host header, as a browser's would.
import { request } from 'node:http';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** `host` is the sandbox URL's first label: `<name>` or `<port>-<name>`. */
export function requestSandboxUrl(apiUrl: string, host: string, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Answer> {
  const { port } = new URL(apiUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host: `${host}.localhost:${port}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
