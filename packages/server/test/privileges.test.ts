// The privileges policy against a real (in-memory) SQLite: partial updates, what a boot gets,
// refusals that store nothing, reset, and rows going with their sandbox.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DomainError } from '../src/core/errors.js';
import { Privileges } from '../src/core/privileges.js';
import { openDatabase, type Db } from '../src/db/database.js';
import { PrivilegesStore } from '../src/db/privileges.js';
import { SandboxStore } from '../src/db/sandboxes.js';
import { sandboxRecord } from './sandbox-record.js';

const sandbox = sandboxRecord({ id: 's1', name: 'one' });

describe('Privileges', () => {
  let db: Db;
  let sandboxes: SandboxStore;
  let privileges: Privileges;
  let events: string[];
  beforeEach(() => {
    db = openDatabase(':memory:');
    sandboxes = new SandboxStore(db);
    sandboxes.insert(sandbox);
    events = [];
    privileges = new Privileges({ store: new PrivilegesStore(db), sandboxes, events: { record: (_s, type, message) => events.push(`${type}: ${message}`) } });
  });
  afterEach(() => db.close());

  it('starts at the defaults: standard, no extra devices, sudo allowed', () => {
    expect(privileges.get('one')).toEqual({ profile: 'standard', devices: [], noNewPrivileges: false });
    expect(privileges.forBoot('s1')).toEqual({ noNewPrivileges: false });
  });

  it('keeps what a change leaves out, and the minimal profile implies no new privileges', () => {
    privileges.set('one', { devices: ['/dev/null', 'zero', 'null'] });
    expect(privileges.set('one', { profile: 'minimal' })).toEqual({ profile: 'minimal', devices: ['null', 'zero'], noNewPrivileges: true });
    expect(privileges.forBoot('s1')).toEqual({ noNewPrivileges: true });
    expect(privileges.set('one', { profile: '' })).toEqual({ profile: 'standard', devices: ['null', 'zero'], noNewPrivileges: true });
    expect(privileges.set('one', { noNewPrivileges: false }).noNewPrivileges).toBe(false);
    expect(privileges.forBoot('s1')).toEqual({ noNewPrivileges: false });
    expect(events[events.length - 1]).toMatch(/^privileges_changed: .*sudo allowed.*next boot/);
  });

  it('refuses what it cannot apply and stores nothing', () => {
    privileges.set('one', { noNewPrivileges: true });
    const refused = (change: Parameters<Privileges['set']>[1]) => {
      expect(() => privileges.set('one', change)).toThrow(DomainError);
      expect(privileges.get('one')).toEqual({ profile: 'standard', devices: [], noNewPrivileges: true });
    };
    refused({ devices: ['null', 'kvm'] });
    refused({ profile: 'privileged' });
    refused({ profile: 'minimal', noNewPrivileges: false });
    expect(events).toHaveLength(1);
  });

  it('resets to the defaults, and forgets a destroyed sandbox', () => {
    privileges.set('one', { noNewPrivileges: true });
    expect(privileges.reset('one')).toEqual({ profile: 'standard', devices: [], noNewPrivileges: false });
    expect(privileges.forBoot('s1')).toEqual({ noNewPrivileges: false });
    privileges.set('one', { noNewPrivileges: true });
    sandboxes.delete('s1');
    expect(db.prepare('SELECT COUNT(*) AS n FROM sandbox_privileges').get()).toEqual({ n: 0 });
    expect(() => privileges.get('one')).toThrow(/does not exist/);
  });
});
