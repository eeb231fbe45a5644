/** Applied in order, each once; never edit one that has shipped, add the next. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE uploads (
     id           TEXT PRIMARY KEY,
     size         INTEGER,
     offset       INTEGER NOT NULL,
     metadata     TEXT NOT NULL,
     state        TEXT NOT NULL CHECK (state IN ('open', 'completed', 'terminated', 'expired')),
     concat       TEXT,
     created_at   INTEGER NOT NULL,
     expires_at   INTEGER,
     completed_at INTEGER,
     sha256       TEXT
   );
   CREATE INDEX uploads_open_expiry ON uploads (expires_at) WHERE state = 'open';`,
];
