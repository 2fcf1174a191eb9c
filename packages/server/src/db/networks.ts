// The sandbox_networks table: which /30 of the pool each sandbox holds, and its egress policy.
import type { Statement } from 'better-sqlite3';
import type { Db } from './database.js';

export interface NetworkRow {
  sandboxId: string;
  slot: number;
  /** The policy as JSON text, exactly as set; null when the sandbox has none. */
  policy: string | null;
  policyGeneration: number;
}

interface Row {
  sandbox_id: string;
  slot: number;
  policy: string | null;
  policy_generation: number;
}

const fromRow = (r: Row): NetworkRow => ({
  sandboxId: r.sandbox_id,
  slot: r.slot,
  policy: r.policy,
  policyGeneration: r.policy_generation,
});

export class NetworkStore {
  private getStatement: Statement | undefined;

  constructor(private readonly db: Db) {}

  all(): NetworkRow[] {
    return (this.db.prepare('SELECT * FROM sandbox_networks ORDER BY slot').all() as Row[]).map(fromRow);
  }

  get(sandboxId: string): NetworkRow | undefined {
    // Prepared once: the URL and TCP proxies look the address up on every request.
    this.getStatement ??= this.db.prepare('SELECT * FROM sandbox_networks WHERE sandbox_id = ?');
    const row = this.getStatement.get(sandboxId) as Row | undefined;
    return row && fromRow(row);
  }

  /**
   * The sandbox's slot, allocating the lowest one below `size` that no row holds and `usable`
   * accepts, if it has none.
   */
  allocate(sandboxId: string, size: number, usable: (slot: number) => boolean = () => true): NetworkRow {
    return this.db.transaction(() => {
      const existing = this.get(sandboxId);
      if (existing) return existing;
      const used = new Set((this.db.prepare('SELECT slot FROM sandbox_networks').all() as Array<{ slot: number }>).map((r) => r.slot));
      let slot = 0;
      while (slot < size && (used.has(slot) || !usable(slot))) slot++;
      if (slot >= size) throw new Error(`the network pool is full (${size} sandboxes); set BURROW_NET_POOL to a larger range`);
      this.db.prepare('INSERT INTO sandbox_networks (sandbox_id, slot) VALUES (?, ?)').run(sandboxId, slot);
      return this.get(sandboxId)!;
    })();
  }

  /** Stores a policy (null removes it) and starts a new generation. */
  setPolicy(sandboxId: string, policy: string | null): NetworkRow {
    this.db
      .prepare('UPDATE sandbox_networks SET policy = ?, policy_generation = policy_generation + 1 WHERE sandbox_id = ?')
      .run(policy, sandboxId);
    return this.get(sandboxId)!;
  }

  release(sandboxId: string): void {
    this.db.prepare('DELETE FROM sandbox_networks WHERE sandbox_id = ?').run(sandboxId);
  }
}
