// The route table is the one list of routes: the README's table of ops says the same, and the
// OpenAPI document describes every route in it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openapiDocument, openapiPath } from '../src/openapi.js';
import { ROUTES } from '../src/routes.js';

const README = new URL('../../../README.md', import.meta.url);
const keyOf = (r: { method: string; path: string }) => `${r.method} ${r.path}`;

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

describe('the route table', () => {
  it('declares each route once', () => {
    const keys = ROUTES.map(keyOf);
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
  });

  it("names the op the README's table names, for every route and no other", () => {
    const table = readmeTable();
    expect([...table.keys()].sort()).toEqual(ROUTES.map(keyOf).sort());
    expect(ROUTES.filter((r) => table.get(keyOf(r)) !== r.op).map(keyOf)).toEqual([]);
  });

  it('gives every WebSocket route a GET to upgrade', () => {
    const gets = new Set(ROUTES.filter((r) => r.method === 'GET').map((r) => r.path));
    expect(ROUTES.filter((r) => r.method === 'WS' && !gets.has(r.path)).map(keyOf)).toEqual([]);
  });
});

describe('the OpenAPI document', () => {
  const doc = openapiDocument() as { paths: Record<string, Record<string, Record<string, unknown>>> };

  it('describes every route of the table, with the op it needs', () => {
    const missing = ROUTES.filter((r) => {
      const get = doc.paths[openapiPath(r.path)]?.[r.method === 'WS' ? 'get' : r.method.toLowerCase()];
      const operation = r.method === 'WS' ? (get?.['x-websocket'] as Record<string, unknown> | undefined) : get;
      return operation?.['x-burrow-op'] !== r.op;
    });
    expect(missing.map(keyOf)).toEqual([]);
  });

  it('lists nothing the table does not have', () => {
    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((m) => m !== 'parameters')
        .map((m) => `${m.toUpperCase()} ${path}`),
    );
    const declared = new Set(ROUTES.filter((r) => r.method !== 'WS').map((r) => `${r.method} ${openapiPath(r.path)}`));
    expect(operations.filter((o) => !declared.has(o))).toEqual([]);
  });

  it('is JSON: every schema the table references can be written out', () => {
    expect(() => JSON.stringify(doc)).not.toThrow();
    expect(JSON.parse(JSON.stringify(doc)).components.schemas.CreateSprite.properties.name).toBeDefined();
  });
});
