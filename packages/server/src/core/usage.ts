// Usage reports: metered amounts over a time range, per sandbox and in total, as a series for
// charts, and what they would cost at the configured prices.
import type { UsageReport } from '@burrow/protocol';
import type { UsageAmounts, UsageStore } from '../db/usage.js';

/** Dollars. Defaults are the published Sprites rates. */
export interface Prices {
  cpuHour: number;
  ramGbHour: number;
  storageGbMonth: number;
}

export const DEFAULT_PRICES: Prices = { cpuHour: 0.07, ramGbHour: 0.04375, storageGbMonth: 0.5 };

/** A month for storage prices: 730 hours (365 days / 12). */
const MONTH_HOURS = 730;
/** Most points a series has; the step grows with the range to stay under it. */
const MAX_POINTS = 60;
const STEPS = [10, 60, 300, 600, 1800, 3600, 6 * 3600, 86_400, 7 * 86_400];

type UsageFigures = Omit<UsageReport['total'], 'cost'>;
type Cost = UsageReport['total']['cost'];

export class Usage {
  constructor(
    private readonly deps: {
      store: UsageStore;
      /** Writes what the meter measured so far, so a report includes the last seconds. */
      flush: () => Promise<void>;
      prices: Prices;
    },
  ) {}

  async report(range: { from: Date; to: Date }, name?: string): Promise<UsageReport> {
    await this.deps.flush();
    const from = Math.floor(range.from.getTime() / 1000);
    const to = Math.ceil(range.to.getTime() / 1000);
    const step = STEPS.find((s) => (to - from) / s <= MAX_POINTS) ?? STEPS[STEPS.length - 1]!;
    const rows = this.deps.store.totals(from, to, name);
    const sum = rows.reduce(
      (a, r) => ({
        cpuSeconds: a.cpuSeconds + r.cpuSeconds,
        memoryGbSeconds: a.memoryGbSeconds + r.memoryGbSeconds,
        diskGbSeconds: a.diskGbSeconds + r.diskGbSeconds,
      }),
      { cpuSeconds: 0, memoryGbSeconds: 0, diskGbSeconds: 0 },
    );
    const { prices } = this.deps;
    return {
      from: new Date(from * 1000).toISOString(),
      to: new Date(to * 1000).toISOString(),
      currency: 'USD',
      prices: { cpu_hour: prices.cpuHour, ram_gb_hour: prices.ramGbHour, storage_gb_month: prices.storageGbMonth },
      total: { ...figures(sum), cost: this.cost(sum) },
      sprites: rows.map((r) => ({ name: r.sandboxName, id: r.sandboxId, ...figures(r), cost: this.cost(r) })),
      series: {
        step_seconds: step,
        points: this.deps.store
          .series(from, to, step, name)
          .map((p) => ({ start: new Date(p.start * 1000).toISOString(), ...figures(p) })),
      },
    };
  }

  cost(a: UsageAmounts): Cost {
    const { prices } = this.deps;
    const cpu = (a.cpuSeconds / 3600) * prices.cpuHour;
    const memory = (a.memoryGbSeconds / 3600) * prices.ramGbHour;
    const storage = (a.diskGbSeconds / 3600 / MONTH_HOURS) * prices.storageGbMonth;
    return { cpu: round(cpu), memory: round(memory), storage: round(storage), total: round(cpu + memory + storage) };
  }
}

function figures(a: UsageAmounts): UsageFigures {
  return {
    cpu_seconds: round(a.cpuSeconds, 3),
    memory_gb_seconds: round(a.memoryGbSeconds, 3),
    disk_gb_hours: round(a.diskGbSeconds / 3600, 9),
  };
}

function round(value: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
