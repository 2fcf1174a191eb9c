// The idle timer: a running sandbox that nothing holds and nobody used for its warm timeout is
// frozen (warm); a warm one is stopped (cold) after its cold timeout. Each tick also notices
// sandboxes that died underneath, so they are marked with the reason before anyone asks.
import type { SandboxRecord } from '../db/sandboxes.js';
import type { Activity } from './activity.js';
import type { SandboxManager } from './sandbox-manager.js';

export interface SleepDefaults {
  /** null: never. */
  warmAfterMs: number | null;
  coldAfterMs: number | null;
}

export interface IdleDeps {
  manager: SandboxManager;
  activity: Activity;
  defaults: SleepDefaults;
  /** Other things that keep a sandbox awake (keep-alive tasks). */
  holds: Array<(record: SandboxRecord) => boolean>;
  log: (line: string) => void;
  tickMs?: number;
}

const DEFAULT_TICK_MS = 1_000;

/** A sandbox's own timeouts over the defaults; 0 in the record means never. */
export function sleepTimeouts(record: SandboxRecord, defaults: SleepDefaults): SleepDefaults {
  const pick = (own: number | null, fallback: number | null) => (own === null ? fallback : own === 0 ? null : own);
  return { warmAfterMs: pick(record.warmAfterMs, defaults.warmAfterMs), coldAfterMs: pick(record.coldAfterMs, defaults.coldAfterMs) };
}

export class IdleTimer {
  private readonly startedAt = Date.now();
  private ticking = false;

  constructor(private readonly deps: IdleDeps) {}

  start(): () => void {
    const timer = setInterval(() => void this.tick(), this.deps.tickMs ?? DEFAULT_TICK_MS);
    return () => clearInterval(timer);
  }

  /** Whether anything holds the sandbox awake right now. */
  held(record: SandboxRecord): boolean {
    return this.deps.activity.busy(record.name) || this.deps.holds.some((h) => h(record));
  }

  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      for (const record of this.deps.manager.list()) {
        await this.consider(record).catch((e: Error) => this.deps.log(`idle: ${record.name}: ${e.message}`));
      }
    } finally {
      this.ticking = false;
    }
  }

  private async consider(record: SandboxRecord): Promise<void> {
    const { manager } = this.deps;
    if (!(await manager.checkAlive(record))) return;
    const { warmAfterMs, coldAfterMs } = sleepTimeouts(record, this.deps.defaults);
    const now = Date.now();
    if (record.status === 'running' && warmAfterMs !== null && !this.held(record)) {
      const since = this.lastUse(record);
      if (now - since < warmAfterMs) return;
      await manager.sleep(record.name, 'warm', () => !this.held(record) && this.lastUse(record) === since);
    } else if (record.status === 'warm' && coldAfterMs !== null && !this.held(record)) {
      const warmSince = Date.parse(record.lastWarmingAt ?? '') || this.startedAt;
      if (now - warmSince < coldAfterMs) return;
      await manager.sleep(record.name, 'cold', () => !this.held(record));
    }
  }

  /** The daemon's own start counts as a use: a restart never puts sandboxes to sleep at once. */
  private lastUse(record: SandboxRecord): number {
    const running = Date.parse(record.lastRunningAt ?? '') || 0;
    return Math.max(this.deps.activity.lastUsed(record.name) ?? 0, running, this.startedAt);
  }
}
