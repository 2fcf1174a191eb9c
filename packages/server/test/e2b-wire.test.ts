// The E2B adapter's pure pieces: how the SDK's metadata filter is decoded, how templates map to
// images, what envd reports when a process ends, the op each RPC needs, and the lifetime rule.
import { describe, expect, it } from 'vitest';
import { rpcOp } from '../src/api/public/e2b/index.js';
import { depthBelow, permissionsText } from '../src/api/public/e2b/envd-filesystem.js';
import { endEvent } from '../src/api/public/e2b/envd-process.js';
import { resolvePath, rpcUser, userNamed } from '../src/api/public/e2b/envd-users.js';
import { decodeMetadataFilter, imageForTemplate, listQuery, matchesMetadata, parseSnapshotId, snapshotId } from '../src/api/public/e2b/wire.js';
import { EventQueue } from '../src/api/public/e2b/event-queue.js';
import { E2bLifetimes } from '../src/core/e2b-lifetimes.js';
import type { E2bSandboxRecord, E2bSandboxStore } from '../src/db/e2b-sandboxes.js';
import type { SandboxManager } from '../src/core/sandbox-manager.js';
import type { SessionRegistry } from '../src/core/sessions.js';
import type { SandboxRecord } from '../src/db/sandboxes.js';

/** What the SDK puts in the URL for a metadata filter (spec 2.4), computed as it does. */
function sdkEncoded(metadata: Record<string, string>): string {
  const inner = new URLSearchParams(Object.entries(metadata).map(([k, v]) => [encodeURIComponent(k), encodeURIComponent(v)])).toString();
  return `metadata=${encodeURIComponent(inner)}`;
}

describe('the metadata filter', () => {
  it('decodes the triple encoding of the spec example', () => {
    const query = new URLSearchParams('metadata=k%3Dv%252520w');
    expect(decodeMetadataFilter(query.get('metadata')!)).toEqual({ k: 'v w' });
  });

  it('round-trips keys and values with reserved characters', () => {
    const metadata = { 'user id': 'a&b=c', 'ü/ñ': '100% sure', plain: 'x' };
    const query = new URLSearchParams(sdkEncoded(metadata));
    expect(decodeMetadataFilter(query.get('metadata')!)).toEqual(metadata);
  });

  it('refuses a malformed escape (answered with 400)', () => {
    expect(() => decodeMetadataFilter('k=%E0%A4%A')).toThrow();
  });

  it('matches when every filter pair is in the metadata', () => {
    expect(matchesMetadata({ a: '1', b: '2' }, { a: '1' })).toBe(true);
    expect(matchesMetadata({ a: '1' }, { a: '1', b: '2' })).toBe(false);
    expect(matchesMetadata({ a: '1' }, {})).toBe(true);
  });
});

describe('the list query', () => {
  it('reads comma-joined states and defaults to both', () => {
    expect(listQuery.parse({ state: 'running,paused' }).state).toEqual(['running', 'paused']);
    expect(listQuery.parse({}).state).toEqual(['running', 'paused']);
    expect(listQuery.parse({ state: 'paused' }).state).toEqual(['paused']);
  });

  it('refuses an unknown state and a bad limit', () => {
    expect(() => listQuery.parse({ state: 'sleeping' })).toThrow(/not one of/);
    expect(() => listQuery.parse({ limit: '0' })).toThrow();
  });
});

describe('templates', () => {
  it('runs base on the minimal image and unknown templates on dev', () => {
    expect(imageForTemplate('base')).toBe('minimal');
    expect(imageForTemplate('my-custom-template')).toBe('dev');
    expect(imageForTemplate('dev')).toBe('dev');
    expect(imageForTemplate('constructor')).toBe('dev');
  });

  it('runs the code interpreter’s template on the code-interpreter image', () => {
    expect(imageForTemplate('code-interpreter-v1')).toBe('code-interpreter');
  });

  it('tells snapshot ids from templates', () => {
    expect(parseSnapshotId(snapshotId('e2b-0123abcd', 'v3'))).toEqual({ sandbox: 'e2b-0123abcd', checkpoint: 'v3' });
    expect(parseSnapshotId('base')).toBeNull();
    expect(parseSnapshotId('../x:v1')).toBeNull();
  });
});

describe('process ends', () => {
  it('reports a clean exit without an error', () => {
    expect(endEvent(0).event).toEqual({ case: 'end', value: { exitCode: 0, exited: true, status: 'exit status 0' } });
  });

  it('reports a failure as Go does: the error is the status text', () => {
    expect(endEvent(3).event).toEqual({ case: 'end', value: { exitCode: 3, exited: true, status: 'exit status 3', error: 'exit status 3' } });
  });

  it('reports a kill as a signal with exit code -1', () => {
    expect(endEvent(137).event).toEqual({ case: 'end', value: { exitCode: -1, exited: false, status: 'signal: killed', error: 'signal: killed' } });
  });
});

describe('envd requests', () => {
  it('needs exec for processes, read for fs reads, write for fs changes', () => {
    expect(rpcOp('/process.Process/Start')).toBe('exec');
    expect(rpcOp('/filesystem.Filesystem/ListDir')).toBe('read');
    expect(rpcOp('/filesystem.Filesystem/WatchDir')).toBe('read');
    expect(rpcOp('/filesystem.Filesystem/Remove')).toBe('write');
    expect(rpcOp('/process.Process/../x')).toBeUndefined();
  });

  it('acts as the user Basic auth names, the sandbox user by default', () => {
    expect(rpcUser(null).name).toBe('user');
    expect(rpcUser(`Basic ${Buffer.from('root:').toString('base64')}`).asRoot).toBe(true);
    expect(() => rpcUser(`Basic ${Buffer.from('mallory:').toString('base64')}`)).toThrow(/does not exist/);
    expect(userNamed('nobody')).toBeUndefined();
  });

  it('resolves relative paths and ~ against the home', () => {
    const user = userNamed('user')!;
    expect(resolvePath('a/b.txt', user)).toBe('/home/user/a/b.txt');
    expect(resolvePath('~/c', user)).toBe('/home/user/c');
    expect(resolvePath('/etc/hosts', user)).toBe('/etc/hosts');
    expect(resolvePath('~', userNamed('root')!)).toBe('/root');
  });

  it('describes entries as envd does', () => {
    expect(permissionsText('file', 0o644)).toBe('-rw-r--r--');
    expect(permissionsText('directory', 0o755)).toBe('drwxr-xr-x');
    expect(depthBelow('/home/user', '/home/user/a')).toBe(1);
    expect(depthBelow('/home/user/', '/home/user/a/b')).toBe(2);
    expect(depthBelow('/home/user', '/home/userx/a')).toBe(Infinity);
  });
});

describe('lifetimes', () => {
  const record = (name: string, status: SandboxRecord['status']) => ({ id: `${name}-id`, name, status }) as SandboxRecord;
  const e2b = (name: string, endsAt: number, onTimeout: 'kill' | 'pause'): E2bSandboxRecord => ({
    sandboxId: `${name}-id`, templateId: 'base', metadata: {}, endsAt, onTimeout, startedAt: '',
  });

  it('destroys a sandbox past its deadline, pauses one that asked for it, and leaves the rest', async () => {
    const records = [record('late', 'running'), record('pausing', 'running'), record('early', 'running'), record('paused', 'warm')];
    const rows = [e2b('late', 1_000, 'kill'), e2b('pausing', 1_000, 'pause'), e2b('early', 5_000, 'kill'), e2b('paused', 1_000, 'kill')];
    const done: string[] = [];
    const closed: string[] = [];
    const lifetimes = new E2bLifetimes({
      store: { all: () => rows } as unknown as E2bSandboxStore,
      manager: {
        byId: (id: string) => records.find((r) => r.id === id),
        destroy: async (name: string) => void done.push(`destroy ${name}`),
        sleep: async (name: string, depth: string) => void done.push(`sleep ${name} ${depth}`),
      } as unknown as SandboxManager,
      sessions: { closeAll: (name: string) => void closed.push(name) } as unknown as SessionRegistry,
      log: () => {},
      now: () => 2_000,
    });
    await lifetimes.tick();
    expect(done).toEqual(['destroy late', 'sleep pausing warm']);
    expect(closed).toEqual(['late']);
  });
});

describe('a stream outbox', () => {
  it('sends a keepalive when nothing else was sent for the interval, then the rest in order', async () => {
    const queue = new EventQueue<string>();
    const seen: string[] = [];
    const draining = (async () => {
      for await (const item of queue.drain(new AbortController().signal, 20, () => 'keepalive')) {
        seen.push(item);
        if (item === 'keepalive' && !seen.includes('a')) {
          queue.push('a', 1);
          queue.push('b', 1);
          queue.end();
        }
      }
    })();
    await draining;
    expect(seen).toEqual(['keepalive', 'a', 'b']);
    expect(queue.bytes).toBe(0);
  });

  it('stops when its client goes away', async () => {
    const queue = new EventQueue<string>();
    const gone = new AbortController();
    const seen: string[] = [];
    const draining = (async () => {
      for await (const item of queue.drain(gone.signal, 60_000, () => 'keepalive')) seen.push(item);
    })();
    queue.push('only');
    await new Promise((r) => setTimeout(r, 10));
    gone.abort();
    await draining;
    expect(seen).toEqual(['only']);
  });
});
