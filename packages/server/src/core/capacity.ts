// Org-wide caps on how many sandboxes run and stay warm at once (reported as the Sprites
// `running_limit` and `warm_limit`). Over the running cap, create and wake answer 429 with
// `concurrent_sprite_limit_exceeded`, or wait for a slot when asked to. One sandbox's limits
// may not exceed the host (host-size.ts).
import type { SandboxRecord, SandboxStore } from '../db/sandboxes.js';
import { DomainError } from './errors.js';
import { refuseBeyondHost, type HostSize } from './host-size.js';

const POLL_MS = 250;
const RETRY_AFTER_SECONDS = 5;

export class Capacity {
  constructor(
    private readonly store: Pick<SandboxStore, 'countByStatus'>,
    readonly limits: { running: number; warm: number },
    /** How long a caller that asked to wait is kept waiting before the 429. */
    private readonly waitMs: number,
    /** What the host can give one sandbox, measured when asked. */
    private readonly host: () => HostSize,
  ) {}

  /** Throws `invalid_limits` for limits one sandbox cannot get on this host. */
  refuseBeyondHost(limits: Partial<Pick<SandboxRecord, 'cpus' | 'ramMb' | 'storageGb'>>): void {
    refuseBeyondHost(limits, this.host());
  }

  /** Whether one more sandbox may run (`creating` ones count) or be warm. */
  has(kind: 'running' | 'warm'): boolean {
    const by = this.store.countByStatus();
    const used = kind === 'running' ? (by.running ?? 0) + (by.creating ?? 0) : (by.warm ?? 0);
    return used < this.limits[kind];
  }

  /**
   * Resolves once a running slot is free; with `wait`, polls up to the configured time, else
   * fails at once. The caller takes the slot (inserts or marks its row) before its next await.
   */
  async runningSlot(name: string, wait: boolean): Promise<void> {
    const deadline = Date.now() + (wait ? this.waitMs : 0);
    while (!this.has('running')) {
      if (Date.now() >= deadline) {
        const limit = this.limits.running;
        const advice = wait ? 'try again later' : 'send wait_for_capacity: true to wait for a slot';
        throw new DomainError(
          'concurrent_sprite_limit_exceeded',
          `${limit} sandboxes are already running, the limit of this server; stop or destroy one, or ${advice} ('${name}' was not started)`,
          { limit, current_count: limit, retry_after_seconds: RETRY_AFTER_SECONDS },
        );
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }
}
