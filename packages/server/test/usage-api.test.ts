// `GET /v1/usage` over HTTP with real metering tables and a fake sandbox manager: the series
// comes in the step it declares, each point the sum of what was metered in its step.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { UsageReport } from '@burrow/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, type ApiDeps } from '../src/api/public/app.js';
import { DashboardAssets } from '../src/api/public/dashboard-assets.js';
import { TokenAuthority } from '../src/auth/api-tokens.js';
import { ensureKeyFile } from '../src/auth/root-key.js';
import { Activity } from '../src/core/activity.js';
import { Metrics } from '../src/core/metrics.js';
import type { SandboxManager } from '../src/core/sandbox-manager.js';
import { DEFAULT_PRICES, Usage } from '../src/core/usage.js';
import { ApiTokenStore } from '../src/db/api-tokens.js';
import { openDatabase, type Db } from '../src/db/database.js';
import { UsageStore } from '../src/db/usage.js';

let dir: string;
let db: Db;
let app: FastifyInstance;
let token: string;
/** A whole hour, so that 10 s buckets begin on the hour. */
const t0 = 1_700_000_000 - (1_700_000_000 % 3600);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'burrow-usage-api-'));
  mkdirSync(join(dir, 'web', 'assets'), { recursive: true });
  writeFileSync(join(dir, 'web', 'index.html'), '<!doctype html>');
  db = openDatabase(join(dir, 'db.sqlite'));
  const store = new UsageStore(db);
  // Six hours of a sandbox busy at 0.01 CPUs with 1 GB of memory, metered every 10 s.
  store.add(
    Array.from({ length: 6 * 360 }, (_, i) => ({
      sandboxId: 'id-dev', sandboxName: 'dev', start: t0 + i * 10, seconds: 10, cpuSeconds: 0.1, memoryGbSeconds: 10, diskGbSeconds: 0,
    })),
  );
  const tokens = new TokenAuthority(await ensureKeyFile(join(dir, 'token.key')), new ApiTokenStore(db));
  token = await tokens.ensureAdminToken(join(dir, 'admin.token'));
  app = await buildApi({
    manager: { list: () => [] } as unknown as SandboxManager,
    tokens,
    usage: new Usage({ store, flush: async () => {}, prices: DEFAULT_PRICES }),
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

async function usage(from: number, to: number): Promise<UsageReport> {
  const q = new URLSearchParams({ from: new Date(from * 1000).toISOString(), to: new Date(to * 1000).toISOString() });
  const r = await app.inject({ url: `/v1/usage?${q}`, headers: { authorization: `Bearer ${token}` } });
  expect(r.statusCode).toBe(200);
  return r.json() as UsageReport;
}

describe('GET /v1/usage', () => {
  it('answers points one declared step apart, each the sum of its step, adding up to the total', async () => {
    // Six hours from 17 s past the hour: steps of 10 min, none of them on the 10 s grid.
    const from = t0 + 17;
    const report = await usage(from, from + 6 * 3600);
    const { step_seconds: step, points } = report.series;
    expect(step).toBe(600);
    expect(points).toHaveLength(36);
    points.forEach((p, i) => expect(Date.parse(p.start)).toBe((from + i * step) * 1000));
    // 60 buckets of 10 s start in each 10 min step; the metering ended 27 s before the range does.
    expect(points.slice(0, 35).every((p) => p.cpu_seconds === 6 && p.memory_gb_seconds === 600)).toBe(true);
    expect(points[35]).toMatchObject({ cpu_seconds: 5.8, memory_gb_seconds: 580 });
    expect(points.reduce((a, p) => a + p.cpu_seconds, 0)).toBeCloseTo(report.total.cpu_seconds, 6);
  });
});
