import { describe, expect, it } from 'vitest';
import { parseMapping } from '../src/commands/proxy.js';

describe('burrow proxy port mappings', () => {
  it('reads PORT and LOCAL:REMOTE', () => {
    expect(parseMapping('5432')).toEqual({ local: 5432, remote: 5432 });
    expect(parseMapping('3001:3000')).toEqual({ local: 3001, remote: 3000 });
    expect(parseMapping('0:8080')).toEqual({ local: 0, remote: 8080 });
  });

  it('refuses anything else', () => {
    for (const bad of ['', 'abc', '70000', '1:2:3', '0']) expect(() => parseMapping(bad)).toThrow(/port mapping/);
  });
});
