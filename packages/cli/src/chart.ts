/**
 * A small terminal chart: one row of block characters per series, scaled to its own maximum,
 * so a glance shows when a sandbox was busy. Pure string functions.
 */
const BLOCKS = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/** One character per value, the tallest value a full block; zero is a blank. */
export function sparkline(values: number[]): string {
  const max = Math.max(0, ...values);
  if (max <= 0) return ' '.repeat(values.length);
  return values
    .map((v) => {
      if (v <= 0) return BLOCKS[0];
      return BLOCKS[Math.max(1, Math.round((v / max) * (BLOCKS.length - 1)))];
    })
    .join('');
}

/** Labelled sparklines with their peak, aligned: `cpu s    ▁▃█▂  peak 2.95`. */
export function renderChart(rows: Array<{ label: string; values: number[]; unit: string }>, caption: string): string {
  const width = Math.max(...rows.map((r) => r.label.length));
  const lines = rows.map((r) => {
    const peak = Math.max(0, ...r.values);
    return `${r.label.padEnd(width)}  |${sparkline(r.values)}|  peak ${formatNumber(peak)} ${r.unit}`;
  });
  return `${lines.join('\n')}\n${' '.repeat(width + 2)} ${caption}\n`;
}

export function formatNumber(value: number): string {
  if (value === 0) return '0';
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 1) return value.toFixed(2);
  return value.toPrecision(2);
}
