// E2B's lifetime rule for the sandboxes made through its API: each has a deadline (kept in the
// database, so a daemon restart keeps it), and at the deadline the sandbox is destroyed, or,
// when pause-on-timeout was asked, frozen warm (memory and processes kept) until a connect
// resumes it. A deadline missed while the daemon was down fires at the first tick after start.
import type { E2bSandboxStore } from '../db/e2b-sandboxes.js';
import type { SandboxManager } from './sandbox-manager.js';
import type { SessionRegistry } from './sessions.js';

const TICK_MS = 1_000;

export interface LifetimeDeps {
  store: E2bSandboxStore;
  manager: SandboxManager;
  sessions: SessionRegistry;
  log: (line: string) => void;
  now?: () => number;
}

export class E2bLifetimes {
  private ticking = false;

  constructor(private readonly deps: LifetimeDeps) {}

  start(): () => void {
    void this.tick();
    const timer = setInterval(() => void this.tick(), TICK_MS);
    return () => clearInterval(timer);
  }

  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const now = (this.deps.now ?? Date.now)();
      for (const e2b of this.deps.store.all()) {
        if (e2b.endsAt > now) continue;
        const record = this.deps.manager.byId(e2b.sandboxId);
        // A paused sandbox has no running clock: connect gives it a new deadline.
        if (!record || record.status === 'warm' || record.status === 'cold') continue;
        await this.expire(record.name, e2b.onTimeout).catch((e: Error) => this.deps.log(`e2b: ending '${record.name}' at its timeout failed: ${e.message}`));
      }
    } finally {
      this.ticking = false;
    }
  }

  private async expire(name: string, onTimeout: 'kill' | 'pause'): Promise<void> {
    if (onTimeout === 'pause') {
      await this.deps.manager.sleep(name, 'warm');
      this.deps.log(`e2b: sandbox '${name}' reached its timeout and was paused (warm)`);
      return;
    }
    this.deps.sessions.closeAll(name, 'the sandbox reached its timeout');
    await this.deps.manager.destroy(name);
    this.deps.log(`e2b: sandbox '${name}' reached its timeout and was destroyed`);
  }
}
