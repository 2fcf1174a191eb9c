import { describe, expect, it } from 'vitest';
import { describeRuntime, formatAge, formatBytes, formatSeconds, formatTimestamp, renderFields, renderJson, renderTable } from '../src/output.js';

describe('tables', () => {
  it('aligns columns to the widest cell, two spaces apart, with no trailing blanks', () => {
    expect(renderTable(['NAME', 'STATUS', 'CREATED'], [['dev', 'running', '3m ago'], ['a-longer-name', 'cold', '2025-01-01']])).toBe(
      'NAME           STATUS   CREATED\n' + 'dev            running  3m ago\n' + 'a-longer-name  cold     2025-01-01\n',
    );
  });

  it('prints just the header for no rows', () => {
    expect(renderTable(['NAME', 'STATUS'], [])).toBe('NAME  STATUS\n');
  });
});

describe('key/value blocks', () => {
  it('aligns values and leaves out empty fields', () => {
    expect(renderFields([['name', 'dev'], ['failure', undefined], ['labels', ''], ['isolation', 'gVisor: a user-space kernel']])).toBe(
      'name       dev\nisolation  gVisor: a user-space kernel\n',
    );
  });
});

describe('values', () => {
  const now = new Date('2025-03-10T12:00:00Z');

  it('shows ages compactly, and old or future times as dates', () => {
    expect(formatAge('2025-03-10T11:59:30Z', now)).toBe('30s ago');
    expect(formatAge('2025-03-10T11:15:00Z', now)).toBe('45m ago');
    expect(formatAge('2025-03-10T07:00:00Z', now)).toBe('5h ago');
    expect(formatAge('2025-03-01T12:00:00Z', now)).toBe('9d ago');
    expect(formatAge('2024-12-24T12:00:00Z', now)).toBe('2024-12-24');
    expect(formatAge('2025-04-01T00:00:00Z', now)).toBe('2025-04-01');
    expect(formatAge(null, now)).toBe('-');
    expect(formatAge('yesterday', now)).toBe('yesterday');
  });

  it('shows timestamps in UTC with their age when recent', () => {
    expect(formatTimestamp('2025-03-10T11:15:00.123Z', now)).toBe('2025-03-10 11:15:00 UTC (45m ago)');
    expect(formatTimestamp('2024-12-24T12:00:00Z', now)).toBe('2024-12-24 12:00:00 UTC');
    expect(formatTimestamp(undefined, now)).toBeUndefined();
  });

  it('names the runtime once', () => {
    expect(describeRuntime('gvisor', 'gVisor (runsc): a user-space kernel')).toBe('gVisor (runsc): a user-space kernel');
    expect(describeRuntime('runc', 'shares the host kernel')).toBe('runc: shares the host kernel');
    expect(describeRuntime('runc', undefined)).toBe('runc');
  });

  it('formats durations, sizes and JSON', () => {
    expect(formatSeconds(412)).toBe('0.41 s');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(280 * 1024 * 1024)).toBe('280.0 MiB');
    expect(formatBytes(null)).toBe('-');
    expect(renderJson([{ name: 'dev' }])).toBe('[\n  {\n    "name": "dev"\n  }\n]\n');
  });
});
