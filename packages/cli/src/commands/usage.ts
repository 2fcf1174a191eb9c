/** `burrow usage [NAME]`: metered CPU, memory and disk, what they would cost, and a chart. */
import type { UsageReport } from '@burrow/protocol';
import type { Command } from 'commander';
import { formatNumber, renderChart } from '../chart.js';
import { clientFor } from '../client.js';
import { duration } from '../options.js';
import { renderJson, renderTable } from '../output.js';

interface UsageOptions {
  since: number;
  json?: boolean;
}

export function registerUsage(program: Command): void {
  program
    .command('usage')
    .description('show metered usage and estimated cost, of every sandbox or of one')
    .argument('[name]', 'one sandbox (default: all)')
    .option('--since <duration>', 'how far back: 30m, 24h, 7d', duration, 86_400_000)
    .option('--json', 'print the report as JSON')
    .action(async (name: string | undefined, options: UsageOptions, command: Command) => {
      const client = clientFor(command);
      const to = new Date();
      const range = { from: new Date(to.getTime() - options.since), to };
      const report = name ? await client.sandbox(name).usage(range) : await client.usage(range);
      process.stdout.write(options.json ? renderJson(report) : renderUsage(report));
    });
}

export function renderUsage(report: UsageReport): string {
  const money = (v: number) => `$${v < 0.01 && v > 0 ? v.toFixed(4) : v.toFixed(2)}`;
  const row = (name: string, u: UsageReport['total']) => [
    name,
    formatNumber(u.cpu_seconds),
    formatNumber(u.memory_gb_seconds),
    formatNumber(u.disk_gb_hours),
    money(u.cost.total),
  ];
  const rows = report.sprites.map((s) => row(s.name, s));
  if (report.sprites.length > 1) rows.push(row('total', report.total));
  const header = `usage from ${shortTime(report.from)} to ${shortTime(report.to)} (UTC)\n\n`;
  if (report.sprites.length === 0) return `${header}nothing metered in this range\n`;
  const table = renderTable(['SANDBOX', 'CPU-S', 'MEM GB-S', 'DISK GB-H', 'COST'], rows);
  const p = report.prices;
  const prices = `prices: $${p.cpu_hour}/vCPU-hour, $${p.ram_gb_hour}/GB-hour RAM, $${p.storage_gb_month}/GB-month disk\n`;
  const points = report.series.points;
  // One column per step of the range, zero where nothing was metered, so gaps show as gaps.
  // A column holds the total of every point that starts in it, so its height and the peak
  // are what the step metered, whatever the points' own spacing.
  const steps = Math.max(1, Math.ceil((Date.parse(report.to) - Date.parse(report.from)) / 1000 / report.series.step_seconds));
  const values = (pick: (p: (typeof points)[number]) => number) => {
    const out = new Array<number>(steps).fill(0);
    for (const point of points) {
      const i = Math.floor((Date.parse(point.start) - Date.parse(report.from)) / 1000 / report.series.step_seconds);
      if (i >= 0 && i < steps) out[i] = (out[i] ?? 0) + pick(point);
    }
    return out;
  };
  const chart = renderChart(
    [
      { label: 'cpu', values: values((x) => x.cpu_seconds), unit: 'CPU-s' },
      { label: 'memory', values: values((x) => x.memory_gb_seconds), unit: 'GB-s' },
      { label: 'disk', values: values((x) => x.disk_gb_hours), unit: 'GB-h' },
    ],
    `one column per ${stepName(report.series.step_seconds)}`,
  );
  return `${header}${table}\n${chart}\n${prices}`;
}

function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, '');
}

function stepName(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}
