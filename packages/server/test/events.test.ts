// The event log: stored in order, listed per name (across sandboxes of that name), handed to
// followers as it happens, and pruned by age.
import { describe, expect, it } from 'vitest';
import { EventLog, type SandboxEvent } from '../src/core/events.js';
import { openDatabase } from '../src/db/database.js';
import { EventStore } from '../src/db/events.js';

function log() {
  const logged: string[] = [];
  const counted: string[] = [];
  const events = new EventLog({
    store: new EventStore(openDatabase(':memory:')),
    log: (e) => logged.push(e.message),
    count: (t) => counted.push(t),
  });
  return { events, logged, counted };
}

describe('the event log', () => {
  it('lists events of a name oldest first, the newest `limit` of them, after a given id', () => {
    const { events, logged, counted } = log();
    events.record({ id: '1', name: 'dev' }, 'created', 'created');
    events.record({ id: '2', name: 'other' }, 'created', 'created');
    events.record({ id: '1', name: 'dev' }, 'checkpointed', 'v1', { checkpoint: 'v1' });
    events.record({ id: '1', name: 'dev' }, 'destroyed', 'gone');
    expect(events.list('dev').map((e) => e.type)).toEqual(['created', 'checkpointed', 'destroyed']);
    expect(events.list('dev', { limit: 2 }).map((e) => e.type)).toEqual(['checkpointed', 'destroyed']);
    const [first] = events.list('dev');
    expect(events.list('dev', { afterSeq: first!.seq }).map((e) => e.type)).toEqual(['checkpointed', 'destroyed']);
    expect(events.list('dev')[1]!.detail).toEqual({ checkpoint: 'v1' });
    expect(logged).toHaveLength(4);
    expect(counted).toEqual(['created', 'created', 'checkpointed', 'destroyed']);
  });

  it('hands new events to followers of that name until they stop following', () => {
    const { events } = log();
    const seen: SandboxEvent[] = [];
    const stop = events.follow('dev', (e) => seen.push(e));
    events.follow('dev', () => {
      throw new Error('a broken follower');
    });
    events.record({ id: '1', name: 'dev' }, 'woke', 'woke');
    events.record({ id: '2', name: 'other' }, 'woke', 'woke');
    stop();
    events.record({ id: '1', name: 'dev' }, 'slept', 'slept');
    expect(seen.map((e) => `${e.sandboxName} ${e.type}`)).toEqual(['dev woke']);
  });

  it('prunes events older than the retention', () => {
    const { events } = log();
    events.record({ id: '1', name: 'dev' }, 'created', 'created');
    expect(events.prune(60_000)).toBe(0);
    expect(events.prune(-1)).toBe(1);
    expect(events.list('dev')).toEqual([]);
  });
});
