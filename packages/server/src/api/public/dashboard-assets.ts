// The dashboard's built files (Vite output shipped in this package), loaded once at start. Only
// files found then are served, so no request path ever reaches the filesystem.
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

export interface Asset {
  body: Buffer;
  type: string;
  /** Vite puts content hashes in the names under assets/, so those never change. */
  immutable: boolean;
}

export class DashboardAssets {
  private constructor(
    private readonly files: Map<string, Asset>,
    /** Why there is nothing to serve, when the dashboard was not built. */
    readonly missing: string | null,
  ) {}

  static async load(dir: string): Promise<DashboardAssets> {
    const files = new Map<string, Asset>();
    const paths = await walk(dir).catch(() => [] as string[]);
    for (const path of paths) {
      const url = `/${relative(dir, path).split(sep).join('/')}`;
      const type = TYPES[extname(path)] ?? 'application/octet-stream';
      files.set(url, { body: await readFile(path), type, immutable: url.startsWith('/assets/') });
    }
    const missing = files.has('/index.html')
      ? null
      : `the dashboard is not built (no ${join(dir, 'index.html')}); run \`npm run build\` in the burrow checkout`;
    return new DashboardAssets(files, missing);
  }

  /** The asset for a URL path; `/` is the app's page. */
  get(path: string): Asset | undefined {
    return this.files.get(path === '/' ? '/index.html' : path);
  }
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}
