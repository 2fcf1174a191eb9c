// Summary statistics over samples, and the formatting every benchmark prints its figures with.

/** The value below which `q` (0..1) of the samples fall, interpolating between neighbours. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

export const median = (samples: readonly number[]): number => quantile(samples, 0.5);
export const p90 = (samples: readonly number[]): number => quantile(samples, 0.9);

export interface Summary {
  n: number;
  median: number;
  p90: number;
  min: number;
  max: number;
}

export function summarize(samples: readonly number[]): Summary {
  return {
    n: samples.length,
    median: median(samples),
    p90: p90(samples),
    min: Math.min(...samples),
    max: Math.max(...samples),
  };
}

/** Milliseconds with a precision that suits their size: 0.84 ms, 31.2 ms, 812 ms, 4.21 s. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '-';
  const mib = bytes / 2 ** 20;
  if (mib >= 100) return `${mib.toFixed(0)} MiB`;
  if (mib >= 1) return `${mib.toFixed(1)} MiB`;
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

/** `x12.3` for how many times the baseline a figure is. */
export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return '-';
  return ratio >= 10 ? `x${ratio.toFixed(1)}` : `x${ratio.toFixed(2)}`;
}

/** `+23%` / `-4%`: how much a figure adds to its baseline. */
export function formatOverhead(figure: number, baseline: number): string {
  const pct = (figure / baseline - 1) * 100;
  if (!Number.isFinite(pct)) return '-';
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(pct >= -10 && pct < 10 ? 1 : 0)}%`;
}

/** A plain-text table: columns padded to their widest cell, numbers-looking cells right-aligned. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^[-+x~]?[\d.]+|^-$/.test(r[i] ?? '')));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
