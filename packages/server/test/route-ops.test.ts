// The protocol's route table is the server's: every route the API registers is in it, every
// route in it is registered, and requestScopes() asks for the op the table names.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROUTES, routeOf } from '@burrow/protocol';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, declareEveryRoute, type ApiDeps } from '../src/api/public/app.js';
import { DashboardAssets } from '../src/api/public/dashboard-assets.js';
import { requestScopes } from '../src/api/public/request-scope.js';
import { TokenAuthority } from '../src/auth/api-tokens.js';
import { ensureKeyFile } from '../src/auth/root-key.js';
import { Activity } from '../src/core/activity.js';
import { Metrics } from '../src/core/metrics.js';
import { ApiTokenStore } from '../src/db/api-tokens.js';
import { openDatabase, type Db } from '../src/db/database.js';

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
    urls: { addressOf: () => undefined },
    activity: new Activity(),
    metrics: new Metrics({ sandboxCounts: () => ({}) }),
  } as unknown as ApiDeps);
});

afterAll(async () => {
  await app?.close();
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

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
  it('the server registers every route of the table, and no other', () => {
    expect([...app.routeKeys].sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('refuses to register a route the table does not have', async () => {
    const bare = Fastify();
    declareEveryRoute(bare);
    expect(() => bare.get('/v1/undeclared', async () => ({}))).toThrow(/GET \/v1\/undeclared is not in the route table/);
    await bare.close();
  });

  it('requestScopes() asks for the op the table names, for every route', () => {
    const mismatched = [...app.routeKeys]
      .filter((key) => routeOf(key)?.op !== 'public')
      .map((key) => ({ key, table: routeOf(key)?.op, derived: opFor(key) }))
      .filter((r) => r.table !== r.derived);
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
