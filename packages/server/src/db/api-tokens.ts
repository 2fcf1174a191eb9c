// The api_tokens table: which macaroon ids burrow minted, with what caveats, from which token,
// and which are revoked.
import type { Db } from './database.js';

export interface ApiTokenRecord {
  id: string;
  description: string;
  /** The caveats the token was minted with (holders may have added more offline). */
  caveats: string[];
  isAdmin: boolean;
  /** The token whose holder minted this one through the API; null for the admin token. */
  parentId: string | null;
  createdAt: string;
  revokedAt: string | null;
}

interface Row {
  id: string;
  description: string;
  caveats: string;
  is_admin: number;
  parent_id: string | null;
  created_at: string;
  revoked_at: string | null;
}

function fromRow(r: Row): ApiTokenRecord {
  return {
    id: r.id,
    description: r.description,
    caveats: JSON.parse(r.caveats) as string[],
    isAdmin: r.is_admin === 1,
    parentId: r.parent_id,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}

export class ApiTokenStore {
  constructor(private readonly db: Db) {}

  insert(record: Omit<ApiTokenRecord, 'revokedAt'>): void {
    this.db
      .prepare('INSERT INTO api_tokens (id, description, caveats, is_admin, parent_id, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(record.id, record.description, JSON.stringify(record.caveats), record.isAdmin ? 1 : 0, record.parentId, record.createdAt);
  }

  get(id: string): ApiTokenRecord | undefined {
    const row = this.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(id) as Row | undefined;
    return row && fromRow(row);
  }

  list(): ApiTokenRecord[] {
    return (this.db.prepare('SELECT * FROM api_tokens ORDER BY created_at, rowid').all() as Row[]).map(fromRow);
  }

  /**
   * Revokes the token and every token minted from it or from those, in one statement; tokens
   * already revoked keep their time. Answers the ids revoked now.
   */
  revokeWithDescendants(id: string, at: string): string[] {
    const rows = this.db
      .prepare(
        `WITH RECURSIVE family(id) AS (
           SELECT id FROM api_tokens WHERE id = ?
           UNION SELECT t.id FROM api_tokens t JOIN family f ON t.parent_id = f.id
         )
         UPDATE api_tokens SET revoked_at = ? WHERE id IN (SELECT id FROM family) AND revoked_at IS NULL
         RETURNING id`,
      )
      .all(id, at) as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }
}
