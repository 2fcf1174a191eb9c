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
  // Checkpoints: read-only snapshots of a sandbox's disk. `status` marks in-flight operations;
  // `checkpoint_restores` holds the intent of a restore until the disk swap is done.
  `ALTER TABLE sandboxes ADD COLUMN checkpoint_source TEXT;
   ALTER TABLE sandboxes ADD COLUMN checkpoint_seq INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE sandboxes ADD COLUMN auto_checkpoint_seq INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE checkpoints (
     sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
     id         TEXT NOT NULL,
     comment    TEXT NOT NULL,
     is_auto    INTEGER NOT NULL,
     source_id  TEXT,
     created_at TEXT NOT NULL,
     status     TEXT NOT NULL,
     PRIMARY KEY (sandbox_id, id)
   );
   CREATE TABLE checkpoint_restores (
     sandbox_id TEXT PRIMARY KEY REFERENCES sandboxes(id) ON DELETE CASCADE,
     target     TEXT NOT NULL,
     auto_id    TEXT NOT NULL,
     started_at TEXT NOT NULL
   )`,
  // API tokens (macaroons): one row per minted token; attenuated copies share its id, so
  // revoking a row revokes every token made from it.
  `CREATE TABLE api_tokens (
     id          TEXT PRIMARY KEY,
     description TEXT NOT NULL,
     caveats     TEXT NOT NULL,
     is_admin    INTEGER NOT NULL,
     created_at  TEXT NOT NULL,
     revoked_at  TEXT
   )`,
  // Each boot runs in a container of its own id, so the container of an earlier boot can be
  // torn down in the background while the next one starts (restore). Rows of earlier versions
  // ran in a container named after the sandbox.
  `ALTER TABLE sandboxes ADD COLUMN container_id TEXT NOT NULL DEFAULT '';
   UPDATE sandboxes SET container_id = id`,
  // Networks: each sandbox's /30 (a slot of the address pool) and its egress policy. A restart
  // rebuilds the firewall from these rows; `policy_generation` marks connections made under the
  // current policy, so it must survive restarts too.
  `CREATE TABLE sandbox_networks (
     sandbox_id        TEXT PRIMARY KEY REFERENCES sandboxes(id) ON DELETE CASCADE,
     slot              INTEGER NOT NULL UNIQUE,
     policy            TEXT,
     policy_generation INTEGER NOT NULL DEFAULT 1
   )`,
  // Observability: the per-sandbox event log, and metered usage in time buckets (per-second
  // samples summed into 10 s buckets, compacted into hours and days as they age). Both outlive
  // their sandbox, so they are keyed by id and name and carry no foreign key.
  `ALTER TABLE sandboxes ADD COLUMN pids_limit INTEGER NOT NULL DEFAULT 4096;
   CREATE TABLE events (
     seq          INTEGER PRIMARY KEY AUTOINCREMENT,
     sandbox_id   TEXT NOT NULL,
     sandbox_name TEXT NOT NULL,
     type         TEXT NOT NULL,
     message      TEXT NOT NULL,
     detail       TEXT,
     created_at   TEXT NOT NULL
   );
   CREATE INDEX events_by_name ON events (sandbox_name, seq);
   CREATE TABLE usage (
     sandbox_id        TEXT NOT NULL,
     sandbox_name      TEXT NOT NULL,
     start             INTEGER NOT NULL,
     seconds           INTEGER NOT NULL,
     cpu_seconds       REAL NOT NULL,
     memory_gb_seconds REAL NOT NULL,
     disk_gb_seconds   REAL NOT NULL,
     PRIMARY KEY (sandbox_id, start, seconds)
   );
   CREATE INDEX usage_by_time ON usage (start)`,
  // Secrets for the egress proxy (values sealed with the key in BURROW_HOME), their grants to
  // sandboxes (a grant is what a placeholder macaroon names) and the audit of every use.
  `CREATE TABLE secrets (
     name       TEXT PRIMARY KEY,
     hosts      TEXT NOT NULL,
     inject     TEXT NOT NULL,
     sealed     BLOB NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE TABLE secret_grants (
     id         TEXT PRIMARY KEY,
     secret     TEXT NOT NULL REFERENCES secrets(name) ON DELETE CASCADE,
     sandbox_id TEXT NOT NULL,
     sandbox    TEXT NOT NULL,
     env_var    TEXT,
     caveats    TEXT NOT NULL,
     created_at TEXT NOT NULL,
     revoked_at TEXT
   );
   CREATE INDEX secret_grants_sandbox ON secret_grants(sandbox_id);
   CREATE TABLE egress_audit (
     id      INTEGER PRIMARY KEY AUTOINCREMENT,
     at      TEXT NOT NULL,
     sandbox TEXT,
     secret  TEXT,
     host    TEXT NOT NULL,
     method  TEXT NOT NULL,
     path    TEXT NOT NULL,
     status  INTEGER,
     outcome TEXT NOT NULL
   )`,
  // Idle sleep overrides per sandbox (NULL: the server's default; 0: never), supervised services,
  // and keep-alive tasks taken from inside a sandbox.
  `ALTER TABLE sandboxes ADD COLUMN warm_after_ms INTEGER;
   ALTER TABLE sandboxes ADD COLUMN cold_after_ms INTEGER;
   CREATE TABLE services (
     sandbox_id  TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
     name        TEXT NOT NULL,
     cmd         TEXT NOT NULL,
     args        TEXT NOT NULL,
     env         TEXT NOT NULL,
     dir         TEXT,
     needs       TEXT NOT NULL,
     http_port   INTEGER,
     wanted      INTEGER NOT NULL,
     token       TEXT,
     created_at  TEXT NOT NULL,
     PRIMARY KEY (sandbox_id, name)
   );
   CREATE TABLE tasks (
     sandbox_id  TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
     id          TEXT NOT NULL,
     name        TEXT NOT NULL,
     expires_at  TEXT NOT NULL,
     created_at  TEXT NOT NULL,
     PRIMARY KEY (sandbox_id, id)
   )`,
  // Browser sessions: the cookies a browser holds are random ids whose SHA-256 is kept here with
  // the token they stand for, so that they expire, can be logged out and die with their token.
  `CREATE TABLE browser_sessions (
     id_hash    TEXT PRIMARY KEY,
     kind       TEXT NOT NULL,
     sandbox_id TEXT,
     token      TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX browser_sessions_expiry ON browser_sessions (expires_at)`,
  // Privileges policy per sandbox (no row: the defaults), applied at each boot.
  `CREATE TABLE sandbox_privileges (
     sandbox_id        TEXT PRIMARY KEY REFERENCES sandboxes(id) ON DELETE CASCADE,
     profile           TEXT NOT NULL,
     devices           TEXT NOT NULL,
     no_new_privileges INTEGER NOT NULL,
     updated_at        TEXT NOT NULL
   )`,
  // A token minted through the API records the token that asked for it: revoking a token
  // revokes every token minted from it, however deep.
  `ALTER TABLE api_tokens ADD COLUMN parent_id TEXT REFERENCES api_tokens(id);
   CREATE INDEX api_tokens_parent ON api_tokens (parent_id)`,
  // The host id range of a runc sandbox's user namespace (NULL: none yet, or not runc); two
  // sandboxes never share one.
  `ALTER TABLE sandboxes ADD COLUMN id_base INTEGER;
   CREATE UNIQUE INDEX sandboxes_id_base ON sandboxes (id_base) WHERE id_base IS NOT NULL`,
  // The preset a secret was added with (NULL: none): a grant of it sets the variables its tool reads.
  `ALTER TABLE secrets ADD COLUMN preset TEXT`,
  // What the E2B API knows of a sandbox beyond burrow's record: the template it was asked for,
  // its metadata, and its lifetime (ends_at, ms since the epoch; what happens then).
  `CREATE TABLE e2b_sandboxes (
     sandbox_id  TEXT PRIMARY KEY REFERENCES sandboxes(id) ON DELETE CASCADE,
     template_id TEXT NOT NULL,
     metadata    TEXT NOT NULL,
     ends_at     INTEGER NOT NULL,
     on_timeout  TEXT NOT NULL,
     started_at  TEXT NOT NULL
   )`,
  // A checkpoint that holds the running machine's memory beside its disk (vm sandboxes): a
  // restore or fork of it resumes the processes.
  `ALTER TABLE checkpoints ADD COLUMN has_memory INTEGER NOT NULL DEFAULT 0`,
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
