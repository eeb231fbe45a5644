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
  // Users, tokens, the file library over content-addressed blobs, and the native chunk API.
  `CREATE TABLE users (
     id            TEXT PRIMARY KEY,
     username      TEXT NOT NULL UNIQUE,
     password_hash TEXT,
     kind          TEXT NOT NULL CHECK (kind IN ('person', 'service')),
     tenant        TEXT NOT NULL,
     created_at    INTEGER NOT NULL
   );
   INSERT INTO users (id, username, password_hash, kind, tenant, created_at)
     VALUES ('00000000000000000000000000000000', 'local', NULL, 'service', 'default', 0);
   CREATE TABLE tokens (
     id         TEXT PRIMARY KEY,
     token_hash TEXT NOT NULL UNIQUE,
     user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
     kind       TEXT NOT NULL CHECK (kind IN ('session', 'api_key')),
     name       TEXT,
     created_at INTEGER NOT NULL,
     expires_at INTEGER
   );
   CREATE INDEX tokens_user ON tokens (user_id, kind);

   CREATE TABLE uploads_v2 (
     id              TEXT PRIMARY KEY,
     owner_id        TEXT NOT NULL,
     size            INTEGER,
     offset          INTEGER NOT NULL,
     metadata        TEXT NOT NULL,
     state           TEXT NOT NULL CHECK (state IN ('open', 'paused', 'completed', 'terminated', 'expired')),
     concat          TEXT,
     created_at      INTEGER NOT NULL,
     expires_at      INTEGER,
     completed_at    INTEGER,
     sha256          TEXT,
     chunk_size      INTEGER,
     expected_sha256 TEXT,
     file_id         TEXT
   );
   INSERT INTO uploads_v2 (id, owner_id, size, offset, metadata, state, concat, created_at, expires_at, completed_at, sha256)
     SELECT id, '00000000000000000000000000000000', size, offset, metadata, state, concat, created_at, expires_at, completed_at, sha256
     FROM uploads;
   DROP TABLE uploads;
   ALTER TABLE uploads_v2 RENAME TO uploads;
   CREATE INDEX uploads_unfinished_expiry ON uploads (expires_at) WHERE state IN ('open', 'paused');

   CREATE TABLE upload_chunks (
     upload_id TEXT NOT NULL,
     idx       INTEGER NOT NULL,
     PRIMARY KEY (upload_id, idx)
   ) WITHOUT ROWID;
   CREATE TABLE upload_challenges (
     upload_id  TEXT PRIMARY KEY,
     challenge  TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   );

   CREATE TABLE blobs (
     sha256      TEXT PRIMARY KEY,
     storage_key TEXT NOT NULL UNIQUE,
     size        INTEGER NOT NULL,
     refs        INTEGER NOT NULL CHECK (refs > 0),
     sha1        TEXT,
     md5         TEXT,
     created_at  INTEGER NOT NULL
   );
   CREATE TABLE dead_blobs (
     storage_key TEXT PRIMARY KEY,
     since       INTEGER NOT NULL
   );
   CREATE TABLE files (
     id         TEXT PRIMARY KEY,
     owner_id   TEXT NOT NULL REFERENCES users (id),
     name       TEXT NOT NULL,
     size       INTEGER NOT NULL,
     type       TEXT NOT NULL,
     sha256     TEXT NOT NULL REFERENCES blobs (sha256),
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX files_owner_name ON files (owner_id, name);
   CREATE INDEX files_owner_sha256 ON files (owner_id, sha256);
   CREATE INDEX files_sha256 ON files (sha256);`,
  // Chunk counts (flow.js's last chunk absorbs the remainder), and client-chosen upload names.
  `ALTER TABLE uploads ADD COLUMN chunk_count INTEGER;
   UPDATE uploads SET chunk_count = (size + chunk_size - 1) / chunk_size WHERE chunk_size IS NOT NULL;
   CREATE TABLE upload_aliases (
     owner_id  TEXT NOT NULL,
     protocol  TEXT NOT NULL,
     alias     TEXT NOT NULL,
     upload_id TEXT NOT NULL,
     PRIMARY KEY (owner_id, protocol, alias)
   ) WITHOUT ROWID;`,
  // Webhooks and business-server callbacks, delivered at least once from here.
  `CREATE TABLE outbox (
     seq             INTEGER PRIMARY KEY AUTOINCREMENT,
     id              TEXT NOT NULL UNIQUE,
     destination     TEXT NOT NULL,
     ordering_key    TEXT NOT NULL,
     body            TEXT NOT NULL,
     state           TEXT NOT NULL CHECK (state IN ('pending', 'dead')),
     attempts        INTEGER NOT NULL,
     next_attempt_at INTEGER NOT NULL,
     last_error      TEXT,
     created_at      INTEGER NOT NULL
   );
   CREATE INDEX outbox_line ON outbox (destination, ordering_key, seq) WHERE state = 'pending';
   CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';`,
  // Byte ranges of uploads whose clients choose their own blocks (fupload).
  `CREATE TABLE upload_ranges (
     upload_id TEXT NOT NULL,
     start     INTEGER NOT NULL,
     "end"     INTEGER NOT NULL,
     PRIMARY KEY (upload_id, start)
   ) WITHOUT ROWID;`,
  // Files named by SHA-1 (filestore-server clients): looked up through their blob's digest.
  `CREATE INDEX blobs_sha1 ON blobs (sha1);`,
  // Storage usage per user (quotas): the uploads that hold bytes without a library file.
  `CREATE INDEX uploads_owner_held ON uploads (owner_id) WHERE file_id IS NULL AND state IN ('open', 'paused', 'completed');`,
  // Tiering: a blob's bytes may be in another store than the one uploads go to; bytes to remove
  // are named by store and come due at a time (a moved blob's old copy outlives downloads in flight).
  `ALTER TABLE blobs ADD COLUMN store TEXT NOT NULL DEFAULT 'upload';
   CREATE INDEX blobs_store ON blobs (store, created_at);
   CREATE TABLE dead_bytes (
     store       TEXT NOT NULL,
     storage_key TEXT NOT NULL,
     due_at      INTEGER NOT NULL,
     PRIMARY KEY (store, storage_key)
   ) WITHOUT ROWID;
   INSERT INTO dead_bytes (store, storage_key, due_at) SELECT 'upload', storage_key, since FROM dead_blobs;
   DROP TABLE dead_blobs;
   CREATE INDEX dead_bytes_due ON dead_bytes (due_at);`,
  // A user's own storage quota, in place of FERRY_QUOTA_BYTES (null: that one).
  `ALTER TABLE users ADD COLUMN quota_bytes INTEGER;`,
];
