import { blobSource, type UploadSource } from '../source.js';

/** What identifies a picked file across page loads: whose it is and which version of it. */
interface FileIdentity {
  user: string;
  size: number;
  lastModified: number;
}

/**
 * A picked or dropped File as an upload source, read a slice at a time (blobSource), keyed by the
 * user, size and last modification, so picking the same file after a reload finds its saved
 * upload (the name is part of the upload's state key already) and another user's does not.
 * `name` is the library name: with a folder, its relative path.
 */
export function fileSource(file: File, user: string, name: string = file.webkitRelativePath || file.name): UploadSource {
  const identity: FileIdentity = { user, size: file.size, lastModified: file.lastModified };
  return blobSource(file, { name, key: JSON.stringify(identity) });
}

/** An unfinished upload saved by an earlier page, described for the person who started it. */
export interface UnfinishedUpload {
  /** The state key, to forget it. */
  key: string;
  name: string;
  size: number;
  lastModified: number;
  uploadId: string | undefined;
  updatedAt: string;
}

/**
 * Reads back a state key made for a fileSource of `user` (the task's key: `[server, name,
 * source key]`); undefined for keys of other users, servers or sources.
 */
export function unfinishedUpload(key: string, value: { uploadId?: string; updatedAt: string }, user: string, server: string): UnfinishedUpload | undefined {
  try {
    const [keyServer, name, sourceKey] = JSON.parse(key) as [unknown, unknown, unknown];
    const identity = JSON.parse(String(sourceKey)) as Partial<FileIdentity>;
    if (keyServer !== server || typeof name !== 'string' || identity.user !== user) return undefined;
    if (typeof identity.size !== 'number' || typeof identity.lastModified !== 'number') return undefined;
    return { key, name, size: identity.size, lastModified: identity.lastModified, uploadId: value.uploadId, updatedAt: value.updatedAt };
  } catch {
    return undefined;
  }
}
