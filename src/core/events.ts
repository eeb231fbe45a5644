import { EventEmitter } from 'node:events';
import type { StoredFile } from './file.js';
import type { Upload } from './upload.js';

export interface UploadEvents {
  created: [upload: Upload];
  /** Bytes were durably added to an upload. */
  received: [upload: Upload, bytes: number];
  completed: [upload: Upload];
  failed: [id: string, reason: string];
  terminated: [upload: Upload];
  expired: [upload: Upload];
  fileDeleted: [file: StoredFile];
  /** An upload failed a whole-file check and was thrown away; `reason` is a stable code. */
  discarded: [upload: Upload, reason: string];
}

/** Typed events of the upload core: metrics, logs and webhooks listen here. */
export class UploadEventBus extends EventEmitter<UploadEvents> {}
