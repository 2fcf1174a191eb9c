// The sandbox_privileges table: each sandbox's privileges policy; a sandbox without a row has
// the defaults.
import type { PrivilegesProfile } from '@burrow/protocol';
import type { Db } from './database.js';

export interface PrivilegesRecord {
  profile: PrivilegesProfile;
  devices: string[];
  noNewPrivileges: boolean;
}

interface Row {
  profile: PrivilegesProfile;
  devices: string;
  no_new_privileges: number;
}

export class PrivilegesStore {
  constructor(private readonly db: Db) {}

  get(sandboxId: string): PrivilegesRecord | undefined {
    const row = this.db.prepare('SELECT profile, devices, no_new_privileges FROM sandbox_privileges WHERE sandbox_id = ?').get(sandboxId) as
      | Row
      | undefined;
    return row && { profile: row.profile, devices: JSON.parse(row.devices) as string[], noNewPrivileges: row.no_new_privileges === 1 };
  }

  set(sandboxId: string, p: PrivilegesRecord): void {
    this.db
      .prepare(
        `INSERT INTO sandbox_privileges (sandbox_id, profile, devices, no_new_privileges, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (sandbox_id) DO UPDATE SET profile = excluded.profile, devices = excluded.devices,
           no_new_privileges = excluded.no_new_privileges, updated_at = excluded.updated_at`,
      )
      .run(sandboxId, p.profile, JSON.stringify(p.devices), p.noNewPrivileges ? 1 : 0, new Date().toISOString());
  }

  delete(sandboxId: string): void {
    this.db.prepare('DELETE FROM sandbox_privileges WHERE sandbox_id = ?').run(sandboxId);
  }
}
