/** The Ferry client SDK: platform-neutral core (fetch + Web Crypto). Node adapters: ./node.js. */
export { FerryClient, type FerryClientOptions } from './client.js';
export type { ClientCrypto, IncrementalHash } from './crypto.js';
export type { DownloadOptions, DownloadProgress, DownloadResult, DownloadSink, DownloadTarget } from './download.js';
export { FerryApiError, FerryNetworkError, UploadCancelledError } from './errors.js';
export { DEFAULT_RETRY, type FetchLike, type RetryPolicy } from './http.js';
export type { UploadProgress } from './progress.js';
export { blobSource, type UploadSource } from './source.js';
export { MemoryStateStore, type SavedUpload, type StateStore } from './state.js';
export type * from './types.js';
export { TusUpload } from './tus.js';
export { NativeUpload, UploadTask, type UploadOptions, type UploadProtocol, type UploadResult } from './upload.js';
