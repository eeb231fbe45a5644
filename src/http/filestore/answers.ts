import { FerryError } from '../../core/errors.js';
import type { StoredFile } from '../../core/file.js';
import type { HttpReply, HttpRequest } from '../exchange.js';

/*
 * The JSON the course's clients read. Field names are the Go structs' (encoding/json keeps them
 * capitalised). Types rather than interfaces: they go out as plain JSON records.
 */

/** The course's util.RespMsg: `code` 0 is success, negative codes are failures. */
export type RespMsg = {
  readonly code: number;
  readonly msg: string;
  readonly data: unknown;
};

/** The course's meta.FileMeta, without Location: that was a server path, and none is ever shown. */
export type FileMetaJson = {
  readonly FileSha1: string;
  readonly FileName: string;
  readonly FileSize: number;
  readonly UploadAt: string;
};

/** The course's db.UserFile, as /file/query lists them. */
export type UserFileJson = {
  readonly UserName: string;
  readonly FileHash: string;
  readonly FileName: string;
  readonly FileSize: number;
  readonly UploadAt: string;
  readonly LastUpdated: string;
};

/** The course's MultipartUploadInfo, as /file/mpupload/init answers it. */
export type MultipartUploadInfoJson = {
  readonly FileHash: string;
  readonly FileSize: number;
  readonly UploadID: string;
  /** Forks that spelled the field UploadId read it with a case-sensitive JSON lookup (jsoniter). */
  readonly UploadId: string;
  readonly ChunkSize: number;
  readonly ChunkCount: number;
  /** 1-based indexes of the parts already stored (the course's resumable variant reads it). */
  readonly ChunkExists: readonly number[];
};

export const OK = 'OK';
/** The course's answers to an instant upload, word for word: clients show them. */
export const FAST_UPLOAD_DONE = '秒传成功';
export const FAST_UPLOAD_NOT_FOUND = '秒传失败，请访问普通上传接口';

export function respMsg(data: unknown = null, msg = OK): RespMsg {
  return { code: 0, msg, data };
}

export function fileMeta(file: StoredFile, sha1: string): FileMetaJson {
  return { FileSha1: sha1, FileName: file.name, FileSize: file.size, UploadAt: courseTime(file.createdAt) };
}

export function userFile(username: string, file: StoredFile, sha1: string): UserFileJson {
  return {
    UserName: username,
    FileHash: sha1,
    FileName: file.name,
    FileSize: file.size,
    UploadAt: courseTime(file.createdAt),
    LastUpdated: courseTime(file.updatedAt),
  };
}

/** Go's "2006-01-02 15:04:05" layout, in UTC (the course printed its server's local time). */
export function courseTime(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * A failure as the course's clients expect one (`code` below zero, `msg`), with Ferry's stable
 * error code alongside and the HTTP status of the error: never a 200 for a failure.
 */
export async function sendFailure(request: HttpRequest, reply: HttpReply, err: FerryError, msg = err.message): Promise<void> {
  // A body nobody will read is not worth receiving: close the connection rather than drain it.
  if (!request.raw.complete && !(Number(request.headers['content-length'] ?? Number.NaN) <= 64 * 1024)) reply.header('Connection', 'close');
  if (err.status === 401) reply.header('WWW-Authenticate', 'Bearer');
  // The course answers an incomplete multipart upload with -2, every other failure with -1.
  const code = err.code === 'upload_incomplete' ? -2 : -1;
  const data = Object.keys(err.details).length > 0 ? err.details : null;
  await reply.code(err.status).send({ code, msg, data, error: { code: err.code, message: err.message } });
}
