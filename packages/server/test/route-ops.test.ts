// The README's table of the op each route needs is the server's: every route the API registers
// has a row, every row is a registered route, and requestScopes() asks for the op the row names.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, type ApiDeps } from '../src/api/app.js';
import { DashboardAssets } from '../src/api/dashboard-assets.js';
import { requestScopes } from '../src/api/request-scope.js';
import { TokenAuthority } from '../src/auth/api-tokens.js';
import { ensureKeyFile } from '../src/auth/root-key.js';
import { Activity } from '../src/core/activity.js';
import { Metrics } from '../src/core/metrics.js';
import { ApiTokenStore } from '../src/db/api-tokens.js';
import { openDatabase, type Db } from '../src/db/database.js';

const README = new URL('../../../README.md', import.meta.url);

let dir: string;
let db: Db;
let app: FastifyInstance;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'burrow-route-ops-'));
  mkdirSync(join(dir, 'web'));
  writeFileSync(join(dir, 'web', 'index.html'), '<!doctype html>');
  db = openDatabase(join(dir, 'db.sqlite'));
  app = await buildApi({
    tokens: new TokenAuthority(await ensureKeyFile(join(dir, 'token.key')), new ApiTokenStore(db)),
    dashboard: await DashboardAssets.load(join(dir, 'web')),
    urls: { sandboxNameOf: () => undefined },
    activity: new Activity(),
    metrics: new Metrics({ sandboxCounts: () => ({}) }),
  } as unknown as ApiDeps);
});

afterAll(async () => {
  await app?.close();
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `| \`WS\` | \`/v1/sprites/{name}/exec\` | \`exec\` |` -> `WS /v1/sprites/:name/exec` => exec */
function readmeTable(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of readFileSync(README, 'utf8').split('\n')) {
    const m = /^\| `(GET|POST|PUT|DELETE|WS)` \| `([^`]+)` \| `([a-z]+)` \|/.exec(line);
    if (!m) continue;
    const key = `${m[1]} ${m[2]!.replace(/\{(\w+)\}/g, ':$1')}`;
    expect(rows.has(key), `README lists ${key} twice`).toBe(false);
    rows.set(key, m[3]!);
  }
  return rows;
}

function opFor(key: string): string {
  const [method, url] = key.split(' ') as [string, string];
  const websocket = method === 'WS';
  const req = {
    method: websocket ? 'GET' : method,
    routeOptions: { url },
    headers: websocket ? { upgrade: 'websocket' } : {},
    params: { name: 'dev', id: 'x', svc: 'web' },
    query: {},
    body: { name: 'new' },
  } as unknown as FastifyRequest;
  return requestScopes(req)[0]!.op;
}

describe('the op each route needs', () => {
  it('the README table has a row for every route the server registers, and no other', () => {
    const table = readmeTable();
    expect([...table.keys()].sort()).toEqual([...app.routeKeys].sort());
  });

  it('requestScopes() asks for the op the README names, for every route', () => {
    const table = readmeTable();
    const mismatched = [...app.routeKeys]
      .filter((key) => table.get(key) !== 'public')
      .map((key) => ({ key, readme: table.get(key), derived: opFor(key) }))
      .filter((r) => r.readme !== r.derived);
    expect(mismatched).toEqual([]);
  });

  it('anything that starts code in a sandbox needs exec', () => {
    for (const key of [
      'WS /v1/sprites/:name/exec',
      'POST /v1/sprites/:name/exec',
      'PUT /v1/sprites/:name/services/:svc',
      'POST /v1/sprites/:name/services/:svc/start',
      'POST /v1/sprites/:name/services/:svc/restart',
    ]) {
      expect(opFor(key), key).toBe('exec');
    }
  });
});
