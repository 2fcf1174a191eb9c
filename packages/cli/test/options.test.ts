import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { collectEnv, positiveInteger } from '../src/options.js';

describe('--env KEY=VALUE', () => {
  it('collects repeated pairs, splitting at the first =', () => {
    const first = collectEnv('A=1');
    expect(collectEnv('B=x=y', first)).toEqual({ A: '1', B: 'x=y' });
    expect(collectEnv('EMPTY=')).toEqual({ EMPTY: '' });
  });

  it('rejects a pair without a key or without =', () => {
    expect(() => collectEnv('NOVALUE')).toThrow(InvalidArgumentError);
    expect(() => collectEnv('=1')).toThrow("expected KEY=VALUE, got '=1'");
  });
});

describe('numbers', () => {
  it('accepts whole numbers above zero only', () => {
    expect(positiveInteger('2')).toBe(2);
    for (const bad of ['0', '-1', '1.5', 'two', '', '1e3']) expect(() => positiveInteger(bad)).toThrow(InvalidArgumentError);
  });
});
