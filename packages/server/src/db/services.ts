// The services table: what each sandbox's supervised services are, whether they are wanted
// (a manual stop clears it, and it stays cleared), and the agent token of the running process
// (so that a restarted daemon can stop what the previous one started).
import type { Db } from './database.js';

export interface ServiceDefinition {
  name: string;
  cmd: string;
  args: string[];
  env: Record<string, string>;
  dir: string | null;
  needs: string[];
  httpPort: number | null;
}

export interface ServiceRecord extends ServiceDefinition {
  sandboxId: string;
  wanted: boolean;
  token: string | null;
  createdAt: string;
}

interface Row {
  sandbox_id: string;
  name: string;
  cmd: string;
  args: string;
  env: string;
  dir: string | null;
  needs: string;
  http_port: number | null;
  wanted: number;
  token: string | null;
  created_at: string;
}

function fromRow(r: Row): ServiceRecord {
  return {
    sandboxId: r.sandbox_id,
    name: r.name,
    cmd: r.cmd,
    args: JSON.parse(r.args),
    env: JSON.parse(r.env),
    dir: r.dir,
    needs: JSON.parse(r.needs),
    httpPort: r.http_port,
    wanted: r.wanted === 1,
    token: r.token,
    createdAt: r.created_at,
  };
}

export class ServiceStore {
  constructor(private readonly db: Db) {}

  forSandbox(sandboxId: string): ServiceRecord[] {
    const rows = this.db.prepare('SELECT * FROM services WHERE sandbox_id = ? ORDER BY name').all(sandboxId) as Row[];
    return rows.map(fromRow);
  }

  get(sandboxId: string, name: string): ServiceRecord | undefined {
    const row = this.db.prepare('SELECT * FROM services WHERE sandbox_id = ? AND name = ?').get(sandboxId, name) as Row | undefined;
    return row && fromRow(row);
  }

  /** Creates or replaces the definition; a new or redefined service is wanted. */
  put(sandboxId: string, def: ServiceDefinition): void {
    this.db
      .prepare(
        `INSERT INTO services (sandbox_id, name, cmd, args, env, dir, needs, http_port, wanted, token, created_at)
         VALUES (@sandboxId, @name, @cmd, @args, @env, @dir, @needs, @httpPort, 1, NULL, @now)
         ON CONFLICT (sandbox_id, name) DO UPDATE SET cmd = @cmd, args = @args, env = @env, dir = @dir,
           needs = @needs, http_port = @httpPort, wanted = 1`,
      )
      .run({
        sandboxId,
        name: def.name,
        cmd: def.cmd,
        args: JSON.stringify(def.args),
        env: JSON.stringify(def.env),
        dir: def.dir,
        needs: JSON.stringify(def.needs),
        httpPort: def.httpPort,
        now: new Date().toISOString(),
      });
  }

  setWanted(sandboxId: string, name: string, wanted: boolean): void {
    this.db.prepare('UPDATE services SET wanted = ? WHERE sandbox_id = ? AND name = ?').run(wanted ? 1 : 0, sandboxId, name);
  }

  setToken(sandboxId: string, name: string, token: string | null): void {
    this.db.prepare('UPDATE services SET token = ? WHERE sandbox_id = ? AND name = ?').run(token, sandboxId, name);
  }

  delete(sandboxId: string, name: string): void {
    this.db.prepare('DELETE FROM services WHERE sandbox_id = ? AND name = ?').run(sandboxId, name);
  }
}
