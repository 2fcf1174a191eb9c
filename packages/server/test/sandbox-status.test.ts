// The lifecycle table and its one writer, over a real (in-memory) database.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { IllegalTransition, SandboxStatuses, TRANSITIONS, canMove } from '../src/core/sandbox-status.js';
import { openDatabase } from '../src/db/database.js';
import { SandboxStore, type SandboxStatus } from '../src/db/sandboxes.js';
import { sandboxRecord } from './sandbox-record.js';

const STATUSES: SandboxStatus[] = ['creating', 'running', 'warm', 'cold', 'failed', 'destroying'];

function storeWith(status: SandboxStatus): SandboxStore {
  const store = new SandboxStore(openDatabase(':memory:'));
  store.insert(sandboxRecord({ id: 'a1', name: 'box', status }));
  return store;
}

describe('the sandbox lifecycle', () => {
  it('allows exactly these status changes', () => {
    const allowed = STATUSES.flatMap((from) => STATUSES.filter((to) => canMove(from, to)).map((to) => `${from} -> ${to}`));
    expect(allowed).toEqual([
      'creating -> running',
      'running -> running',
      'running -> warm',
      'running -> cold',
      'running -> failed',
      'running -> destroying',
      'warm -> running',
      'warm -> cold',
      'warm -> failed',
      'warm -> destroying',
      'cold -> running',
      'cold -> failed',
      'cold -> destroying',
      'failed -> running',
      'failed -> failed',
      'failed -> destroying',
      'destroying -> destroying',
    ]);
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...STATUSES].sort());
  });

  it('never goes back to creating, and leaves destroying only by the row being deleted', () => {
    for (const from of STATUSES) expect(canMove(from, 'creating')).toBe(false);
    expect(TRANSITIONS.destroying).toEqual(['destroying']);
  });

  it('records an allowed change with its failure reason', () => {
    const store = storeWith('running');
    const statuses = new SandboxStatuses(store);
    statuses.move('a1', 'failed', { failureReason: 'stopped underneath' });
    expect(store.byId('a1')).toMatchObject({ status: 'failed', failureReason: 'stopped underneath' });
    statuses.move('a1', 'running', { failureReason: null });
    expect(store.byId('a1')).toMatchObject({ status: 'running', failureReason: null });
  });

  it('throws on an illegal change and records nothing', () => {
    const store = storeWith('cold');
    const statuses = new SandboxStatuses(store);
    expect(() => statuses.move('a1', 'warm')).toThrow(IllegalTransition);
    expect(() => statuses.move('a1', 'warm')).toThrow("sandbox 'box' may not go from cold to warm (allowed from cold: running, failed, destroying)");
    expect(store.byId('a1')?.status).toBe('cold');
    const creating = storeWith('creating');
    expect(() => new SandboxStatuses(creating).move('a1', 'failed')).toThrow(IllegalTransition);
    expect(creating.byId('a1')?.status).toBe('creating');
  });

  it('in a running daemon, reports an illegal change and records it anyway (the host already is in that state)', () => {
    const store = storeWith('cold');
    const reported: IllegalTransition[] = [];
    new SandboxStatuses(store, (e) => reported.push(e)).move('a1', 'warm');
    expect(reported.map((e) => [e.from, e.to])).toEqual([['cold', 'warm']]);
    expect(store.byId('a1')?.status).toBe('warm');
  });

  it('leaves a row that is gone meanwhile gone', () => {
    const store = storeWith('running');
    store.delete('a1');
    new SandboxStatuses(store).move('a1', 'failed');
    expect(store.byId('a1')).toBeUndefined();
  });
});

describe('the one status writer', () => {
  it('is held by SandboxStatuses alone: the store has no other status writer and hands this one out once', () => {
    const store = storeWith('running');
    expect((store as unknown as Record<string, unknown>).setStatus).toBeUndefined();
    const statuses = new SandboxStatuses(store);
    expect(() => store.takeStatusWriter()).toThrow('statuses change only through SandboxStatuses.move');
    statuses.move('a1', 'warm');
    expect(store.byId('a1')?.status).toBe('warm');
  });

  it('cannot be taken before SandboxStatuses: a second writer is a startup error, not a silent one', () => {
    const store = storeWith('running');
    const outside = store.takeStatusWriter();
    expect(() => new SandboxStatuses(store)).toThrow('statuses change only through SandboxStatuses.move');
    outside('a1', 'cold');
    expect(store.byId('a1')?.status).toBe('cold');
  });

  it('is taken nowhere but in core/sandbox-status.ts, and no other SQL writes the status column', () => {
    const src = fileURLToPath(new URL('../src/', import.meta.url));
    const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => join(src, f));
    const where = (pattern: RegExp) => files.filter((f) => pattern.test(readFileSync(f, 'utf8'))).map((f) => relative(src, f));
    expect(where(/\.takeStatusWriter\(/)).toEqual(['core/sandbox-status.ts']);
    expect(where(/UPDATE\s+sandboxes\s+SET[^;`]*\bstatus\s*=/i)).toEqual(['db/sandboxes.ts']);
  });
});
