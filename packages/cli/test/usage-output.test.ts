// How `burrow usage` and `burrow events` print: a table with a total, a sparkline per measure
// scaled to its own peak with gaps where nothing was metered, and one line per event.
import { describe, expect, it } from 'vitest';
import type { UsageReport } from '@burrow/sdk';
import { renderChart, sparkline } from '../src/chart.js';
import { renderEvent } from '../src/commands/events.js';
import { renderUsage } from '../src/commands/usage.js';
import { duration } from '../src/options.js';

const zero = { cpu: 0, memory: 0, storage: 0, total: 0 };

function report(): UsageReport {
  return {
    from: '2025-01-01T00:00:00.000Z',
    to: '2025-01-01T00:05:00.000Z',
    currency: 'USD',
    prices: { cpu_hour: 0.07, ram_gb_hour: 0.04375, storage_gb_month: 0.5 },
    total: { cpu_seconds: 4, memory_gb_seconds: 2, disk_gb_hours: 0.5, cost: { ...zero, total: 0.0125 } },
    sprites: [
      { name: 'dev', id: 'a', cpu_seconds: 3, memory_gb_seconds: 2, disk_gb_hours: 0.5, cost: { ...zero, total: 0.0124 } },
      { name: 'web', id: 'b', cpu_seconds: 1, memory_gb_seconds: 0, disk_gb_hours: 0, cost: { ...zero, total: 0.0001 } },
    ],
    series: {
      step_seconds: 10,
      points: [
        { start: '2025-01-01T00:00:00.000Z', cpu_seconds: 4, memory_gb_seconds: 1, disk_gb_hours: 0.25 },
        { start: '2025-01-01T00:04:50.000Z', cpu_seconds: 1, memory_gb_seconds: 1, disk_gb_hours: 0.25 },
      ],
    },
  };
}

describe('sparklines', () => {
  it('scale to the peak, with blanks for zero and at least the lowest block for anything above', () => {
    expect(sparkline([0, 1, 4, 8, 0.01])).toBe(' ▁▄█▁');
    expect(sparkline([0, 0])).toBe('  ');
  });

  it('come labelled and aligned, with each peak', () => {
    expect(renderChart([{ label: 'cpu', values: [1, 2], unit: 'CPU-s' }, { label: 'memory', values: [0, 5], unit: 'GB-s' }], 'per 10 s')).toBe(
      'cpu     |▄█|  peak 2.00 CPU-s\nmemory  | █|  peak 5.00 GB-s\n         per 10 s\n',
    );
  });
});

describe('burrow usage', () => {
  it('prints a row per sandbox and a total, a chart over the whole range, and the prices', () => {
    const text = renderUsage(report());
    expect(text).toContain('usage from 2025-01-01 00:00 to 2025-01-01 00:05 (UTC)');
    expect(text).toMatch(/SANDBOX\s+CPU-S\s+MEM GB-S\s+DISK GB-H\s+COST\ndev\s+3.00\s+2.00\s+0.50\s+\$0.01\nweb\s+1.00\s+0\s+0\s+\$0.0001\ntotal\s+4.00/);
    // 30 columns of 10 s: the first and the last metered, the rest blank.
    const cpu = /^cpu\s+\|(.*)\|/m.exec(text)![1]!;
    expect(cpu).toHaveLength(30);
    expect(cpu[0]).toBe('█');
    expect(cpu[29]).toBe('▂');
    expect(cpu.slice(1, 29).trim()).toBe('');
    expect(text).toContain('one column per 10 s');
    expect(text).toContain('prices: $0.07/vCPU-hour, $0.04375/GB-hour RAM, $0.5/GB-month disk');
  });

  it('draws one column per step, each the total of its points, and the peak of those totals', () => {
    const step = 1800;
    const from = Date.parse('2025-01-01T00:00:00.000Z');
    // Points 10 s apart in the third column, as a server that did not bucket them would send.
    const points = Array.from({ length: 6 }, (_, i) => ({
      start: new Date(from + (2 * step + i * 10) * 1000).toISOString(),
      cpu_seconds: 0.5,
      memory_gb_seconds: 1,
      disk_gb_hours: 0,
    }));
    points.push({ start: new Date(from + 5 * step * 1000).toISOString(), cpu_seconds: 1, memory_gb_seconds: 0, disk_gb_hours: 0 });
    const text = renderUsage({ ...report(), to: new Date(from + 6 * step * 1000).toISOString(), series: { step_seconds: step, points } });
    const cpu = /^cpu\s+\|(.*)\|\s+peak (\S+) CPU-s$/m.exec(text)!;
    expect(cpu[1]).toBe('  █  ▃');
    expect(cpu[2]).toBe('3.00');
    expect(text).toContain('one column per 30 min');
  });

  it('says so when nothing was metered', () => {
    expect(renderUsage({ ...report(), sprites: [] })).toContain('nothing metered in this range');
  });

  it('takes --since as a duration', () => {
    expect(duration('90s')).toBe(90_000);
    expect(duration('24h')).toBe(86_400_000);
    expect(() => duration('yesterday')).toThrow(/duration like 30m/);
  });
});

describe('burrow events', () => {
  it('prints the time, the type and the message on one line', () => {
    expect(
      renderEvent({ id: 3, sprite: 'dev', sprite_id: 'a', type: 'oom_killed', message: 'killed out of memory', time: '2025-01-01T12:00:00.123Z' }),
    ).toBe('2025-01-01 12:00:00  oom_killed      killed out of memory\n');
  });
});
