// Reads CPU, memory and disk series out of a usage answer. The metering API is young, so this
// accepts the likely shapes (a bare array of samples, or an object holding one) and names each
// series after the field it came from.

export interface Series {
  label: string;
  points: Array<{ t: number; v: number }>;
}

const TIME_KEYS = ['time', 'timestamp', 't', 'at', 'start', 'from'];
const ARRAY_KEYS = ['samples', 'series', 'points', 'usage', 'data', 'items'];
const METRICS: Array<[string, RegExp]> = [
  ['CPU', /cpu/i],
  ['Memory', /mem|ram/i],
  ['Disk', /disk|storage/i],
];

type Sample = Record<string, unknown>;

export function usageSeries(answer: unknown): Series[] {
  const samples = findSamples(answer);
  if (!samples.length) return [];
  const out: Series[] = [];
  for (const [name, pattern] of METRICS) {
    const key = Object.keys(samples[0]!).find((k) => pattern.test(k) && typeof samples[0]![k] === 'number');
    if (!key) continue;
    const points = samples
      .map((s) => ({ t: timeOf(s), v: s[key] as number }))
      .filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v))
      .sort((a, b) => a.t - b.t);
    if (points.length) out.push({ label: `${name} (${key})`, points });
  }
  return out;
}

function findSamples(answer: unknown): Sample[] {
  const isSamples = (v: unknown): v is Sample[] =>
    Array.isArray(v) && v.length > 0 && typeof v[0] === 'object' && v[0] !== null && TIME_KEYS.some((k) => k in (v[0] as object));
  if (isSamples(answer)) return answer;
  if (typeof answer !== 'object' || answer === null) return [];
  for (const key of ARRAY_KEYS) {
    const v = (answer as Record<string, unknown>)[key];
    if (isSamples(v)) return v;
  }
  return [];
}

function timeOf(s: Sample): number {
  for (const k of TIME_KEYS) {
    const v = s[k];
    if (typeof v === 'number') return v < 1e12 ? v * 1000 : v;
    if (typeof v === 'string') return Date.parse(v);
  }
  return NaN;
}
