import { describe, expect, it } from 'vitest';
import { execQuery, parseDuration } from '@burrow/protocol';
import { exitCodeOf, normalizeSignal, signalFromMessage } from '../src/core/exit-codes.js';

describe('exec parameters', () => {
  it('accept repeated and single cmd and env values', () => {
    expect(execQuery.parse({ cmd: 'ls' }).cmd).toEqual(['ls']);
    expect(execQuery.parse({ cmd: ['ls', '-la'], env: ['A=1', 'B=x=y'] })).toMatchObject({ cmd: ['ls', '-la'], env: ['A=1', 'B=x=y'] });
    expect(() => execQuery.parse({ env: 'NOVALUE' })).toThrow();
    expect(execQuery.parse({ tty: 'true', rows: '30', stdin: 'false' })).toMatchObject({ tty: true, rows: 30, stdin: false });
  });

  it('parse Go-style durations', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('soon')).toBeNull();
    expect(parseDuration('10x')).toBeNull();
  });

  it('read signals in both spellings and report deaths by signal like a shell', () => {
    expect(normalizeSignal('TERM')).toBe('SIGTERM');
    expect(normalizeSignal('sigint')).toBe('SIGINT');
    expect(normalizeSignal('NOPE')).toBeNull();
    expect(signalFromMessage('{"type":"signal","signal":"KILL"}')).toBe('SIGKILL');
    expect(signalFromMessage('{"type":"resize","rows":1}')).toBeNull();
    expect(signalFromMessage('not json')).toBeNull();
    expect(exitCodeOf(3, null)).toBe(3);
    expect(exitCodeOf(null, 'SIGKILL')).toBe(137);
  });
});
