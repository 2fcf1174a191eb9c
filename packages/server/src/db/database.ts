// SQLite (WAL) with numbered migrations; the schema version is SQLite's user_version.
import Database from 'better-sqlite3';

const MIGRATIONS: string[] = [
  `CREATE TABLE sandboxes (
     id              TEXT PRIMARY KEY,
     name            TEXT NOT NULL UNIQUE,
     status          TEXT NOT NULL,
     runtime         TEXT NOT NULL,
     image           TEXT NOT NULL,
     cpus            REAL NOT NULL,
     ram_mb          INTEGER NOT NULL,
     storage_gb      INTEGER NOT NULL,
     environment     TEXT NOT NULL,
     labels          TEXT NOT NULL,
     url_settings    TEXT NOT NULL,
     failure_reason  TEXT,
     created_at      TEXT NOT NULL,
     updated_at      TEXT NOT NULL,
     last_running_at TEXT,
     last_warming_at TEXT
   )`,
];

export type Db = Database.Database;

export function openDatabase(file: string): Db {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`the database is from a newer burrow (schema ${current}); upgrade burrow`);
  }
  const apply = db.transaction(() => {
    for (let v = current; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  });
  apply();
}
