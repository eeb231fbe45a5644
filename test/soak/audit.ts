/**
 * What must hold once the chaos is over. Every upload the server reported complete downloads with
 * the SHA-256 of what was sent and is recorded with it; every blob's bytes hash to its SHA-256 and
 * its reference count is its number of files; every upload left incomplete is resumed to the end;
 * and once the rest expire and the worker sweeps, no byte is left that nothing references: no
 * stray file in the data dir, no multipart upload or stray object in the bucket, no dead blob.
 */
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { downloadSha256, sha256OfStream, sleep } from '../helpers/e2e.js';
import type { SoakCluster } from './cluster.js';
import type { UploadRecord } from './workload.js';

type Violation = (record: UploadRecord | null, what: string) => void;

interface UploadRow {
  id: string;
  state: string;
  sha256: string | null;
  size: string | null;
  file_id: string | null;
  file_sha256: string | null;
  file_size: string | null;
}

const ROW = `SELECT u.id, u.state, u.sha256, u.size, u.file_id, f.sha256 AS file_sha256, f.size AS file_size
  FROM uploads u LEFT JOIN files f ON f.id = u.file_id`;

/** The upload row of a record, found the way its protocol names it. */
async function rowOf(soak: SoakCluster, record: UploadRecord): Promise<UploadRow | null> {
  const ref = record.ref;
  if (!ref) return null;
  const query = ref.kind === 'id' ? { text: `${ROW} WHERE u.id = $1`, values: [ref.id] }
    : ref.kind === 'flow' ? { text: `${ROW} JOIN upload_aliases a ON a.upload_id = u.id WHERE a.protocol = 'flow' AND a.alias = $1`, values: [ref.identifier] }
      : { text: `${ROW} WHERE u.metadata::jsonb ->> 'fupload.task' = $1`, values: [String(ref.taskId)] };
  const { rows } = await soak.db.query<UploadRow>(query);
  return rows[0] ?? null;
}

/** A completed upload: its download and its records all carry the SHA-256 of what was sent. */
export async function checkCompleted(soak: SoakCluster, record: UploadRecord, violation: Violation): Promise<void> {
  if (record.downloadPath && record.deleted) {
    const download = await downloadSha256(`${soak.api[0]!.url}${record.downloadPath}`).catch((err: Error) => ({ status: 0, sha256: err.message }));
    if (download.status !== 404) violation(record, `download of the deleted file ${record.downloadPath}: ${download.status} (${download.sha256})`);
  } else if (record.downloadPath) {
    const base = soak.api[record.label.length % soak.api.length]!.url;
    const download = await downloadSha256(`${base}${record.downloadPath}`, { timeoutMs: 120_000 }).catch((err: Error) => ({ status: 0, sha256: err.message, bytes: 0 }));
    if (download.status !== 200 || download.sha256 !== record.sha256 || download.bytes !== record.size) {
      violation(record, `download ${record.downloadPath}: ${download.status}, ${download.bytes} bytes, sha256 ${download.sha256} (sent ${record.size} bytes, ${record.sha256})`);
    }
  }
  const row = await rowOf(soak, record);
  if (!row) {
    violation(record, `no upload row for ${JSON.stringify(record.ref)}`);
    return;
  }
  if (row.state !== 'completed' || row.sha256 !== record.sha256) violation(record, `upload ${row.id} recorded as ${row.state} with sha256 ${row.sha256}, sent ${record.sha256}`);
  if (record.deleted ? row.file_sha256 !== null : row.file_sha256 !== record.sha256 || Number(row.file_size) !== record.size) {
    violation(record, `file ${row.file_id} of upload ${row.id}: sha256 ${row.file_sha256}, ${row.file_size} bytes (sent ${record.sha256}, ${record.size})`);
  }
}

/** Every completed upload's file agrees with it; every blob's count is its number of files. */
export async function checkLibrary(soak: SoakCluster, violation: Violation): Promise<void> {
  const disagreeing = await soak.db.query<UploadRow>(`${ROW} WHERE u.state = 'completed' AND (u.sha256 IS NULL OR f.sha256 <> u.sha256)`);
  for (const row of disagreeing.rows) violation(null, `completed upload ${row.id}: sha256 ${row.sha256}, its file ${row.file_id} ${row.file_sha256}`);
  const counts = await soak.db.query<{ sha256: string; refs: number; files: string }>(
    'SELECT b.sha256, b.refs, (SELECT count(*) FROM files f WHERE f.sha256 = b.sha256) AS files FROM blobs b',
  );
  for (const blob of counts.rows) {
    if (blob.refs !== Number(blob.files)) violation(null, `blob ${blob.sha256}: refs ${blob.refs}, but ${blob.files} files name it`);
  }
}

interface BlobRow {
  sha256: string;
  storage_key: string;
  size: string;
}

/** Every blob's stored bytes: their SHA-256 and length are the blob's. */
export async function checkBlobBytes(soak: SoakCluster, violation: Violation): Promise<number> {
  const { rows } = await soak.db.query<BlobRow>('SELECT sha256, storage_key, size FROM blobs');
  for (const blob of rows) {
    const read = await readBlob(soak, blob.storage_key).catch((err: Error) => ({ sha256: `unreadable: ${err.message}`, bytes: -1 }));
    if (read.sha256 !== blob.sha256 || read.bytes !== Number(blob.size)) {
      violation(null, `blob ${blob.sha256} (${blob.storage_key}): stored bytes hash to ${read.sha256}, ${read.bytes} of ${blob.size} bytes`);
    }
  }
  return rows.length;
}

function readBlob(soak: SoakCluster, key: string): Promise<{ sha256: string; bytes: number }> {
  if (soak.options.storage === 'local') return sha256OfStream(createReadStream(join(blobRoot(soak), key.slice(0, 2), key)) as AsyncIterable<Buffer>);
  const { client, settings } = soak.cluster.s3;
  return client.send(new GetObjectCommand({ Bucket: settings.bucket, Key: `blobs/${key}` })).then((out) => sha256OfStream(out.Body as AsyncIterable<Buffer>));
}

/** An upload's row and stored chunks or ranges, for the report of a violation that names it. */
export async function describeUpload(soak: SoakCluster, id: string): Promise<string> {
  const { rows } = await soak.db.query(
    `SELECT u.id, u.state, u.size, u."offset", u.chunk_size, u.chunk_count, u.sha256, u.expected_sha256, u.file_id, u.metadata,
       to_timestamp(u.created_at / 1000.0) AS created, to_timestamp(u.expires_at / 1000.0) AS expires, to_timestamp(u.completed_at / 1000.0) AS completed,
       (SELECT count(*) FROM upload_chunks c WHERE c.upload_id = u.id) AS chunks,
       (SELECT count(*) FROM upload_ranges r WHERE r.upload_id = u.id) AS ranges,
       (SELECT b.sha256 FROM blobs b WHERE b.storage_key = u.id) AS blob_of
     FROM uploads u WHERE u.id = $1`,
    [id],
  );
  return rows[0] ? JSON.stringify(rows[0]) : 'no such upload row';
}

/** Polls `probe` until it returns nothing; returns what it last returned (empty on success). */
export async function waitUntilEmpty<T>(probe: () => Promise<T[]>, ms: number): Promise<T[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = await probe();
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(500);
  }
}

/** Uploads neither finished nor ended: after expiry and a sweep there must be none. */
export async function unfinishedUploads(soak: SoakCluster): Promise<string[]> {
  const { rows } = await soak.db.query<{ id: string; state: string; expires_at: string | null }>(
    "SELECT id, state, expires_at FROM uploads WHERE state IN ('open', 'paused')",
  );
  return rows.map((row) => `${row.id} (${row.state}, expires ${row.expires_at ? new Date(Number(row.expires_at)).toISOString() : 'never'})`);
}

/** Bytes queued for removal (dead_blobs, named dead_bytes since blobs may live in more than one store). */
export async function deadBlobs(soak: SoakCluster): Promise<string[]> {
  const { rows: [named] } = await soak.db.query<{ renamed: boolean }>("SELECT to_regclass('dead_bytes') IS NOT NULL AS renamed");
  const { rows } = await soak.db.query<{ storage_key: string }>(`SELECT storage_key FROM ${named?.renamed ? 'dead_bytes' : 'dead_blobs'}`);
  return rows.map((row) => row.storage_key);
}

/** Bytes in storage that no blob references (and blobs whose bytes are missing). */
export async function orphans(soak: SoakCluster): Promise<string[]> {
  const { rows } = await soak.db.query<{ storage_key: string }>('SELECT storage_key FROM blobs');
  const wanted = new Set(rows.map((row) => row.storage_key));
  const found = soak.options.storage === 'local' ? await localKeys(blobRoot(soak)) : await bucketKeys(soak);
  const stray = [...found].filter((key) => !wanted.has(key)).map((key) => `stray bytes: ${key}`);
  const missing = [...wanted].filter((key) => !found.has(key)).map((key) => `blob bytes missing: ${key}`);
  if (soak.options.storage === 's3') {
    for (const upload of await soak.cluster.multipartUploads()) stray.push(`multipart upload left: ${upload.key} ${upload.uploadId}`);
  }
  return [...stray, ...missing];
}

/** Where the local store keeps its files (src/services.ts). */
function blobRoot(soak: SoakCluster): string {
  return join(soak.dataDir, 'blobs');
}

/** Every file under the store's root, as a blob key (`ab/abcdef…` → `abcdef…`) or its relative path. */
async function localKeys(root: string): Promise<Set<string>> {
  const keys = new Set<string>();
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory()) {
      keys.add(entry.name);
      continue;
    }
    for (const file of await readdir(join(root, entry.name))) keys.add(file.startsWith(entry.name) ? file : `${entry.name}/${file}`);
  }
  return keys;
}

/** Every object in the bucket, as a blob key (`blobs/<key>`) or its full key. */
async function bucketKeys(soak: SoakCluster): Promise<Set<string>> {
  const { client, settings } = soak.cluster.s3;
  const keys = new Set<string>();
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: settings.bucket, ContinuationToken: token }));
    for (const object of page.Contents ?? []) keys.add(object.Key!.startsWith('blobs/') ? object.Key!.slice('blobs/'.length) : object.Key!);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}
