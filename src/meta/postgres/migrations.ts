/**
 * Applied in order, each once, under an advisory lock (database.ts); never edit one that has
 * shipped, add the next. The tables mirror SQLite's (src/meta/sqlite/migrations.ts) so both read
 * into the same rows (src/meta/rows.ts): dates are bigint epoch milliseconds, JSON is text.
 */
export const MIGRATIONS: readonly string[] = [
  `DO $$
   BEGIN
     -- Name search folds case with ICU (library.ts), so every node folds alike whatever the
     -- database's locale; both need a UTF-8 database with ICU.
     IF current_setting('server_encoding') <> 'UTF8' THEN
       RAISE EXCEPTION 'Ferry needs a UTF8 database, this one is %', current_setting('server_encoding');
     END IF;
     IF NOT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu') THEN
       RAISE EXCEPTION 'Ferry needs PostgreSQL built with ICU (collation "und-x-icu" is missing)';
     END IF;
   END $$;

   CREATE TABLE users (
     id            text COLLATE "C" PRIMARY KEY,
     username      text NOT NULL CONSTRAINT users_username_key UNIQUE,
     password_hash text,
     kind          text NOT NULL CHECK (kind IN ('person', 'service')),
     tenant        text NOT NULL,
     created_at    bigint NOT NULL
   );
   INSERT INTO users (id, username, password_hash, kind, tenant, created_at)
     VALUES ('00000000000000000000000000000000', 'local', NULL, 'service', 'default', 0);
   CREATE TABLE tokens (
     id         text COLLATE "C" PRIMARY KEY,
     token_hash text NOT NULL UNIQUE,
     user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
     kind       text NOT NULL CHECK (kind IN ('session', 'api_key')),
     name       text,
     created_at bigint NOT NULL,
     expires_at bigint
   );
   CREATE INDEX tokens_user ON tokens (user_id, kind);
   CREATE INDEX tokens_expiry ON tokens (expires_at) WHERE expires_at IS NOT NULL;

   CREATE TABLE uploads (
     id              text PRIMARY KEY,
     owner_id        text NOT NULL,
     size            bigint,
     "offset"        bigint NOT NULL,
     metadata        text NOT NULL,
     state           text NOT NULL CHECK (state IN ('open', 'paused', 'completed', 'terminated', 'expired')),
     concat          text,
     created_at      bigint NOT NULL,
     expires_at      bigint,
     completed_at    bigint,
     sha256          text,
     chunk_size      bigint,
     chunk_count     integer,
     expected_sha256 text,
     file_id         text
   );
   CREATE INDEX uploads_unfinished_expiry ON uploads (expires_at) WHERE state IN ('open', 'paused');

   CREATE TABLE upload_chunks (
     upload_id text NOT NULL,
     idx       integer NOT NULL,
     PRIMARY KEY (upload_id, idx)
   );
   -- Client-chosen names of uploads (flow.js identifiers), per owner and protocol.
   CREATE TABLE upload_aliases (
     owner_id  text NOT NULL,
     protocol  text NOT NULL,
     alias     text NOT NULL,
     upload_id text NOT NULL,
     PRIMARY KEY (owner_id, protocol, alias)
   );
   CREATE TABLE upload_challenges (
     upload_id  text PRIMARY KEY,
     challenge  text NOT NULL,
     expires_at bigint NOT NULL
   );

   CREATE TABLE blobs (
     sha256      text PRIMARY KEY,
     storage_key text NOT NULL UNIQUE,
     size        bigint NOT NULL,
     refs        integer NOT NULL CHECK (refs > 0),
     sha1        text,
     md5         text,
     created_at  bigint NOT NULL
   );
   CREATE INDEX blobs_without_digests ON blobs (created_at) WHERE sha1 IS NULL;
   CREATE TABLE dead_blobs (
     storage_key text PRIMARY KEY,
     since       bigint NOT NULL
   );
   CREATE INDEX dead_blobs_since ON dead_blobs (since);
   -- Names and ids sort by code point (byte order of UTF-8), as the files API documents.
   CREATE TABLE files (
     id         text COLLATE "C" PRIMARY KEY,
     owner_id   text NOT NULL REFERENCES users (id),
     name       text COLLATE "C" NOT NULL,
     size       bigint NOT NULL,
     type       text NOT NULL,
     sha256     text NOT NULL REFERENCES blobs (sha256),
     created_at bigint NOT NULL,
     updated_at bigint NOT NULL
   );
   CREATE INDEX files_owner_name ON files (owner_id, name);
   CREATE INDEX files_owner_sha256 ON files (owner_id, sha256);
   CREATE INDEX files_sha256 ON files (sha256);

   -- Webhooks and business-server callbacks, delivered at least once from here.
   CREATE TABLE outbox (
     seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     id              text NOT NULL UNIQUE,
     destination     text NOT NULL,
     ordering_key    text NOT NULL,
     body            text NOT NULL,
     state           text NOT NULL CHECK (state IN ('pending', 'dead')),
     attempts        integer NOT NULL,
     next_attempt_at bigint NOT NULL,
     last_error      text,
     created_at      bigint NOT NULL
   );
   CREATE INDEX outbox_line ON outbox (destination, ordering_key, seq) WHERE state = 'pending';
   CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';`,
  // Byte ranges of uploads whose clients choose their own blocks (fupload).
  `CREATE TABLE upload_ranges (
     upload_id text COLLATE "C" NOT NULL,
     start     bigint NOT NULL,
     "end"     bigint NOT NULL,
     PRIMARY KEY (upload_id, start)
   );`,
  // Files named by SHA-1 (filestore-server clients): looked up through their blob's digest.
  `CREATE INDEX blobs_sha1 ON blobs (sha1);`,
  // Storage usage per user (quotas): the uploads that hold bytes without a library file.
  `CREATE INDEX uploads_owner_held ON uploads (owner_id) WHERE file_id IS NULL AND state IN ('open', 'paused', 'completed');`,
  // Tiering: a blob's bytes may be in another store than the one uploads go to; bytes to remove
  // are named by store and come due at a time (a moved blob's old copy outlives downloads in flight).
  `ALTER TABLE blobs ADD COLUMN store text NOT NULL DEFAULT 'upload';
   CREATE INDEX blobs_store ON blobs (store, created_at);
   ALTER TABLE dead_blobs RENAME TO dead_bytes;
   ALTER TABLE dead_bytes RENAME COLUMN since TO due_at;
   ALTER TABLE dead_bytes ADD COLUMN store text NOT NULL DEFAULT 'upload';
   ALTER TABLE dead_bytes DROP CONSTRAINT dead_blobs_pkey;
   ALTER TABLE dead_bytes ADD PRIMARY KEY (store, storage_key);
   ALTER INDEX dead_blobs_since RENAME TO dead_bytes_due;`,
  // A user's own storage quota, in place of FERRY_QUOTA_BYTES (null: that one).
  `ALTER TABLE users ADD COLUMN quota_bytes bigint;`,
];
