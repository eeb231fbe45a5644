/**
 * The client SDK for Node: the core FerryClient with Node's hashing and files. `upload()` takes a
 * path (or any UploadSource) and `download()` a path (or any DownloadTarget).
 */
import { FerryClient as CoreClient, type FerryClientOptions } from './client.js';
import type { DownloadOptions, DownloadResult, DownloadTarget } from './download.js';
import { nodeCrypto } from './node/crypto.js';
import { fileSource } from './node/file-source.js';
import { FileStateStore } from './node/file-state.js';
import { fileTarget } from './node/file-target.js';
import type { UploadSource } from './source.js';
import type { UploadOptions, UploadResult, UploadTask } from './upload.js';

export * from './index.js';
export { nodeCrypto } from './node/crypto.js';
export { fileSource } from './node/file-source.js';
export { defaultStatePath, FileStateStore } from './node/file-state.js';
export { fileTarget } from './node/file-target.js';

export interface NodeFerryClientOptions extends FerryClientOptions {
  /** Keep upload state in this JSON file (e.g. `defaultStatePath(process.env, homedir())`) instead of memory. */
  statePath?: string;
}

export class FerryClient extends CoreClient {
  constructor(options: NodeFerryClientOptions) {
    super({
      crypto: nodeCrypto,
      ...options,
      ...(options.statePath && !options.state ? { state: new FileStateStore(options.statePath) } : {}),
    });
  }

  /** An upload of a file path or any source; start() it, pause(), resume(), cancel(). */
  async createFileUpload(source: string | UploadSource, options: UploadOptions = {}): Promise<UploadTask> {
    return this.createUpload(typeof source === 'string' ? await fileSource(source) : source, options);
  }

  override upload(source: string | UploadSource, options: UploadOptions = {}): Promise<UploadResult> {
    return this.createFileUpload(source, options).then((task) => task.start());
  }

  override download(id: string, target: string | DownloadTarget, options: DownloadOptions = {}): Promise<DownloadResult> {
    return super.download(id, typeof target === 'string' ? fileTarget(target) : target, options);
  }
}
