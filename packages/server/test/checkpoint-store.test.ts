// The checkpoint bookkeeping against a real (in-memory) SQLite: ids, what a sandbox stands on,
// rolled-back ids given back, restore intents, and rows going with their sandbox.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseInterval } from '../src/config.js';
import { CheckpointStore } from '../src/db/checkpoints.js';
import { openDatabase, type Db } from '../src/db/database.js';
import { SandboxStore } from '../src/db/sandboxes.js';
import { sandboxRecord } from './sandbox-record.js';

const sandbox = (id: string, name: string) => sandboxRecord({ id, name });

describe('CheckpointStore', () => {
  let db: Db;
  let store: CheckpointStore;
  let sandboxes: SandboxStore;
  beforeEach(() => {
    db = openDatabase(':memory:');
    sandboxes = new SandboxStore(db);
    store = new CheckpointStore(db);
    sandboxes.insert(sandbox('s1', 'one'));
  });
  afterEach(() => db.close());

  it('numbers checkpoints v0, v1, ... and automatic ones auto-1, auto-2, ... with their parent', () => {
    const v0 = store.begin('s1', { comment: '', isAuto: false });
    store.complete('s1', v0.id, { becomesSource: true });
    const v1 = store.begin('s1', { comment: 'x', isAuto: false });
    store.complete('s1', v1.id, { becomesSource: true });
    const a1 = store.begin('s1', { comment: 'timer', isAuto: true });
    store.complete('s1', a1.id, { becomesSource: false });
    expect([v0.id, v1.id, a1.id]).toEqual(['v0', 'v1', 'auto-1']);
    expect(v1.sourceId).toBe('v0');
    expect(a1.sourceId).toBe('v1');
    expect(store.sourceOf('s1')).toBe('v1');
    expect(store.forSandbox('s1').map((c) => c.status)).toEqual(['ready', 'ready', 'ready']);
  });

  it('gives the id of a rolled-back checkpoint back, but never reuses a deleted one', () => {
    store.complete('s1', store.begin('s1', { comment: '', isAuto: false }).id, { becomesSource: true });
    const failed = store.begin('s1', { comment: '', isAuto: false });
    store.delete('s1', failed.id, { releaseId: true });
    const v1 = store.begin('s1', { comment: '', isAuto: false });
    expect(v1.id).toBe('v1');
    store.complete('s1', v1.id, { becomesSource: true });
    store.delete('s1', 'v1');
    expect(store.begin('s1', { comment: '', isAuto: false }).id).toBe('v2');
  });

  it('records a restore with its automatic checkpoint, and finishes or abandons it', () => {
    store.complete('s1', store.begin('s1', { comment: '', isAuto: false }).id, { becomesSource: true });
    const intent = store.beginRestore('s1', 'v0');
    expect(intent).toMatchObject({ sandboxId: 's1', target: 'v0', autoId: 'auto-1' });
    expect(store.get('s1', 'auto-1')?.status).toBe('creating');
    store.abandonRestore(intent);
    expect(store.restores()).toEqual([]);
    expect(store.get('s1', 'auto-1')).toBeUndefined();
    const again = store.beginRestore('s1', 'v0');
    expect(again.autoId).toBe('auto-1');
    store.finishRestore(again);
    expect(store.get('s1', 'auto-1')).toMatchObject({ status: 'ready', isAuto: true, comment: 'before restoring v0' });
    expect(store.sourceOf('s1')).toBe('v0');
  });

  it('forgets the checkpoints and restores of a deleted sandbox', () => {
    store.complete('s1', store.begin('s1', { comment: '', isAuto: false }).id, { becomesSource: true });
    store.beginRestore('s1', 'v0');
    sandboxes.delete('s1');
    expect(store.all()).toEqual([]);
    expect(store.restores()).toEqual([]);
  });
});

describe('BURROW_AUTO_CHECKPOINT_INTERVAL', () => {
  it('is off by default and takes seconds or durations', () => {
    expect(parseInterval('off')).toBeNull();
    expect(parseInterval('0')).toBeNull();
    expect(parseInterval('90')).toBe(90_000);
    expect(parseInterval('10m')).toBe(600_000);
    expect(parseInterval('1h30m')).toBe(5_400_000);
    expect(() => parseInterval('soon')).toThrow(/BURROW_AUTO_CHECKPOINT_INTERVAL/);
  });
});
