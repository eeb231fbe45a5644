import { FerryError } from '../../core/errors.js';

/** One chunk request of flow.js or resumable.js: the same protocol under two prefixes. */
export interface FlowChunk {
  readonly dialect: 'flow' | 'resumable';
  /** 1-based, as the clients count. */
  readonly chunkNumber: number;
  readonly chunkSize: number;
  readonly currentChunkSize: number;
  readonly totalSize: number;
  readonly totalChunks: number;
  readonly identifier: string;
  readonly filename: string;
  /** The path within a dropped folder, when the client sends one. */
  readonly relativePath: string | null;
  readonly type: string | null;
  /**
   * flow.js and resumable.js cut floor(size / chunkSize) chunks, the last taking the remainder;
   * with forceChunkSize they cut ceil(size / chunkSize). totalChunks tells which.
   */
  readonly layout: 'floor' | 'ceil';
}

const FIELDS = ['ChunkNumber', 'ChunkSize', 'CurrentChunkSize', 'TotalSize', 'TotalChunks', 'Identifier', 'Filename', 'RelativePath', 'Type'] as const;

/** The request's parameters, whichever dialect sent them, checked for sense and consistency. */
export function parseFlowChunk(raw: Readonly<Record<string, string>>): FlowChunk {
  const dialect = raw.flowChunkNumber !== undefined ? 'flow' : raw.resumableChunkNumber !== undefined ? 'resumable' : null;
  if (dialect === null) throw new FerryError('invalid_request', 'missing flowChunkNumber (or resumableChunkNumber)');
  const value = (field: (typeof FIELDS)[number]) => raw[`${dialect}${field}`];
  const required = (field: (typeof FIELDS)[number]) => {
    const found = value(field);
    if (found === undefined || found === '') throw new FerryError('invalid_request', `missing ${dialect}${field}`);
    return found;
  };
  const count = (field: (typeof FIELDS)[number], min: number) => {
    const text = required(field);
    const number = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(number) || number < min) throw new FerryError('invalid_request', `${dialect}${field} must be a whole number of at least ${min}`);
    return number;
  };

  const chunkNumber = count('ChunkNumber', 1);
  const chunkSize = count('ChunkSize', 1);
  const totalSize = count('TotalSize', 0);
  const totalChunks = count('TotalChunks', 1);
  const currentChunkSize = count('CurrentChunkSize', 0);
  const layout = totalChunks === Math.max(1, Math.floor(totalSize / chunkSize)) ? 'floor'
    : totalChunks === Math.ceil(totalSize / chunkSize) ? 'ceil' : null;
  if (layout === null) throw new FerryError('invalid_request', `${dialect}TotalChunks does not fit ${dialect}TotalSize and ${dialect}ChunkSize`);
  if (chunkNumber > totalChunks) throw new FerryError('chunk_out_of_range', `${dialect}ChunkNumber is past ${dialect}TotalChunks`);
  const expected = chunkNumber === totalChunks ? totalSize - (totalChunks - 1) * chunkSize : chunkSize;
  if (currentChunkSize !== expected) throw new FerryError('chunk_length_mismatch', `chunk ${chunkNumber} has ${expected} bytes, not ${currentChunkSize}`);
  return {
    dialect,
    chunkNumber,
    chunkSize,
    currentChunkSize,
    totalSize,
    totalChunks,
    identifier: required('Identifier'),
    filename: required('Filename'),
    relativePath: value('RelativePath') || null,
    type: value('Type') || null,
    layout,
  };
}
