// The usage charts' reading of the metering API's answers.
import { describe, expect, it } from 'vitest';
import { usageSeries } from '../src/usage-series';

describe('usageSeries', () => {
  it('turns metered amounts per step into CPUs, GB of memory and GB of disk', () => {
    const answer = {
      total: { cpu_seconds: 90, memory_gb_seconds: 60, disk_gb_hours: 1, cost: { total: 0.01 } },
      series: {
        step_seconds: 60,
        points: [
          { start: '2030-01-01T00:01:00Z', cpu_seconds: 30, memory_gb_seconds: 30, disk_gb_hours: 0.5 / 60 },
          { start: '2030-01-01T00:00:00Z', cpu_seconds: 60, memory_gb_seconds: 30, disk_gb_hours: 0.5 / 60 },
        ],
      },
    };
    const series = usageSeries(answer);
    expect(series.map((s) => [s.label, s.unit])).toEqual([['CPU', 'CPUs'], ['Memory', 'GB'], ['Disk', 'GB']]);
    expect(series[0]!.points.map((p) => p.v)).toEqual([1, 0.5]);
    expect(series[0]!.points[0]!.t).toBe(Date.parse('2030-01-01T00:00:00Z'));
    expect(series[2]!.points[0]!.v).toBeCloseTo(0.5);
  });

  it('adds up points closer together than the declared step before turning them into rates', () => {
    const answer = {
      from: '2030-01-01T00:00:00Z',
      to: '2030-01-01T01:00:00Z',
      series: {
        step_seconds: 1800,
        points: [
          { start: '2030-01-01T00:00:00Z', cpu_seconds: 900 },
          { start: '2030-01-01T00:00:10Z', cpu_seconds: 900 },
          { start: '2030-01-01T00:30:00Z', cpu_seconds: 450 },
        ],
      },
    };
    expect(usageSeries(answer)[0]!.points).toEqual([
      { t: Date.parse('2030-01-01T00:00:00Z'), v: 1 },
      { t: Date.parse('2030-01-01T00:30:00Z'), v: 0.25 },
    ]);
  });

  it('measures the step still running over the part of it that has passed', () => {
    const answer = {
      to: '2030-01-01T00:01:30Z',
      series: { step_seconds: 60, points: [{ start: '2030-01-01T00:01:00Z', cpu_seconds: 15 }] },
    };
    expect(usageSeries(answer)[0]!.points[0]!.v).toBe(0.5);
  });

  it('reads a bare array of samples with epoch times, naming series after their fields', () => {
    const series = usageSeries([{ timestamp: 1_900_000_000, cpu_percent: 12, mem_bytes: 5 }]);
    expect(series).toEqual([
      { label: 'CPU', unit: 'cpu_percent', points: [{ t: 1_900_000_000_000, v: 12 }] },
      { label: 'Memory', unit: 'mem_bytes', points: [{ t: 1_900_000_000_000, v: 5 }] },
    ]);
  });

  it('finds nothing in answers without samples', () => {
    expect(usageSeries({ total: { cpu_seconds: 3 } })).toEqual([]);
    expect(usageSeries(null)).toEqual([]);
    expect(usageSeries({ series: { step_seconds: 60, points: [] } })).toEqual([]);
  });
});
