// How `burrow cp` and `burrow exec --file` read their path arguments.
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseRemote } from '../src/commands/cp.js';
import { collectFileSpec } from '../src/options.js';

describe('parseRemote', () => {
  it('reads NAME:PATH, with relative sandbox paths under the home directory', () => {
    expect(parseRemote('dev:/etc/hosts')).toEqual({ name: 'dev', path: '/etc/hosts' });
    expect(parseRemote('my-box:src/x')).toEqual({ name: 'my-box', path: '/home/user/src/x' });
    expect(parseRemote('dev:')).toEqual({ name: 'dev', path: '/home/user/.' });
    expect(parseRemote('dev:/a:b')).toEqual({ name: 'dev', path: '/a:b' });
  });

  it('leaves local paths alone, including ones with a colon written as ./', () => {
    expect(parseRemote('./dev:x')).toBeNull();
    expect(parseRemote('/tmp/file')).toBeNull();
    expect(parseRemote('Dev:/x')).toBeNull();
    expect(parseRemote('-dev:/x')).toBeNull();
  });
});

describe('collectFileSpec', () => {
  it('splits LOCAL:SANDBOX_PATH at the first colon and collects repeats', () => {
    const one = collectFileSpec('./a.sh:/tmp/a.sh');
    expect(collectFileSpec('b:dir/b:c', one)).toEqual([
      { source: './a.sh', dest: '/tmp/a.sh' },
      { source: 'b', dest: 'dir/b:c' },
    ]);
  });

  it('refuses a spec without both sides', () => {
    for (const bad of ['nocolon', ':/x', 'x:']) expect(() => collectFileSpec(bad)).toThrow(InvalidArgumentError);
  });
});
