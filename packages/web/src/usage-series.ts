// Reads CPU, memory and disk series out of a usage answer (`GET /v1/usage`): metered amounts per
// step (`cpu_seconds`, `memory_gb_seconds`, `disk_gb_hours`) become average rates (CPUs, GB, GB)
// so that the charts read like a monitor. Other likely shapes (a bare array of samples) are read
// too, with each series named after the field it came from.

export interface Series {
  label: string;
  unit: string;
  points: Array<{ t: number; v: number }>;
}

const TIME_KEYS = ['start', 'time', 'timestamp', 't', 'at', 'from'];
const ARRAY_KEYS = ['points', 'samples', 'series', 'usage', 'data', 'items'];
const METRICS: Array<[string, RegExp]> = [
  ['CPU', /cpu/i],
  ['Memory', /mem|ram/i],
  ['Disk', /disk|storage/i],
];

type Sample = Record<string, unknown>;

export function usageSeries(answer: unknown): Series[] {
  const { samples, stepSeconds } = findSamples(answer);
  if (!samples.length) return [];
  // The newest step is still running: its amount covers only the part up to `to`.
  const to = Date.parse(String((answer as { to?: unknown } | null)?.to ?? ''));
  const from = Date.parse(String((answer as { from?: unknown } | null)?.from ?? ''));
  const out: Series[] = [];
  for (const [name, pattern] of METRICS) {
    const key = Object.keys(samples[0]!).find((k) => pattern.test(k) && typeof samples[0]![k] === 'number');
    if (!key) continue;
    const { divisor, unit } = rateOf(key, stepSeconds);
    const elapsed = (t: number) => (stepSeconds && Number.isFinite(to) ? Math.min(1, Math.max((to - t) / 1000 / stepSeconds, 1 / stepSeconds)) : 1);
    const amounts = samples.map((s) => ({ t: timeOf(s), amount: s[key] as number }));
    const points = (stepSeconds && Number.isFinite(from) ? intoSteps(amounts, from, stepSeconds) : amounts)
      .map((p) => ({ t: p.t, v: p.amount / divisor / elapsed(p.t) }))
      .filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v))
      .sort((a, b) => a.t - b.t);
    if (points.length) out.push({ label: name, unit, points });
  }
  return out;
}

/**
 * Amounts summed per step counted from `from` (ms), as `burrow usage` draws its columns: a rate
 * is an amount over the step it was metered in, so points closer together than the step the
 * answer declares must be added up first.
 */
function intoSteps(amounts: Array<{ t: number; amount: number }>, from: number, stepSeconds: number): Array<{ t: number; amount: number }> {
  const stepMs = stepSeconds * 1000;
  const sums = new Map<number, number>();
  for (const { t, amount } of amounts) {
    const start = from + Math.floor((t - from) / stepMs) * stepMs;
    sums.set(start, (sums.get(start) ?? 0) + amount);
  }
  return [...sums].map(([t, amount]) => ({ t, amount }));
}

/** An amount per step divided by the step is a rate: CPU-seconds per second are CPUs. */
function rateOf(key: string, stepSeconds: number | undefined): { divisor: number; unit: string } {
  if (stepSeconds && key.endsWith('_seconds')) return { divisor: stepSeconds, unit: key.replace(/_?seconds$/, '').replace(/^cpu$/, 'CPUs').replace(/^memory_gb$/, 'GB') };
  if (stepSeconds && key.endsWith('_hours')) return { divisor: stepSeconds / 3600, unit: key.replace(/_?hours$/, '').replace(/^disk_gb$/, 'GB') };
  return { divisor: 1, unit: key };
}

function findSamples(answer: unknown): { samples: Sample[]; stepSeconds?: number } {
  const isSamples = (v: unknown): v is Sample[] =>
    Array.isArray(v) && v.length > 0 && typeof v[0] === 'object' && v[0] !== null && TIME_KEYS.some((k) => k in (v[0] as object));
  if (isSamples(answer)) return { samples: answer };
  if (typeof answer !== 'object' || answer === null) return { samples: [] };
  const obj = answer as Record<string, unknown>;
  for (const key of ARRAY_KEYS) {
    const v = obj[key];
    if (isSamples(v)) return { samples: v, stepSeconds: numberOr(obj.step_seconds) };
    // One level down: `{series: {step_seconds, points: [...]}}`.
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const inner = findSamples(v);
      if (inner.samples.length) return inner;
    }
  }
  return { samples: [] };
}

function numberOr(v: unknown): number | undefined {
  return typeof v === 'number' && v > 0 ? v : undefined;
}

function timeOf(s: Sample): number {
  for (const k of TIME_KEYS) {
    const v = s[k];
    if (typeof v === 'number') return v < 1e12 ? v * 1000 : v;
    if (typeof v === 'string') return Date.parse(v);
  }
  return NaN;
}
