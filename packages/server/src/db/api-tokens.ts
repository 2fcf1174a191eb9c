// The api_tokens table: which macaroon ids burrow minted, with what caveats, and which are revoked.
import type { Db } from './database.js';

export interface ApiTokenRecord {
  id: string;
  description: string;
  /** The caveats the token was minted with (holders may have added more offline). */
  caveats: string[];
  isAdmin: boolean;
  createdAt: string;
  revokedAt: string | null;
}

interface Row {
  id: string;
  description: string;
  caveats: string;
  is_admin: number;
  created_at: string;
  revoked_at: string | null;
}

function fromRow(r: Row): ApiTokenRecord {
  return {
    id: r.id,
    description: r.description,
    caveats: JSON.parse(r.caveats) as string[],
    isAdmin: r.is_admin === 1,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}

export class ApiTokenStore {
  constructor(private readonly db: Db) {}

  insert(record: Omit<ApiTokenRecord, 'revokedAt'>): void {
    this.db
      .prepare('INSERT INTO api_tokens (id, description, caveats, is_admin, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(record.id, record.description, JSON.stringify(record.caveats), record.isAdmin ? 1 : 0, record.createdAt);
  }

  get(id: string): ApiTokenRecord | undefined {
    const row = this.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(id) as Row | undefined;
    return row && fromRow(row);
  }

  list(): ApiTokenRecord[] {
    return (this.db.prepare('SELECT * FROM api_tokens ORDER BY created_at, rowid').all() as Row[]).map(fromRow);
  }

  revoke(id: string, at: string): void {
    this.db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id);
  }
}
