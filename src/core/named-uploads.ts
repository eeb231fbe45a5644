import type { MetaStore } from '../meta/types.js';
import { chunkCountFor, type ChunkedCreateRequest, type ChunkedStatus, type ChunkedUploads } from './chunked.js';
import { FerryError, isFerryError } from './errors.js';
import type { Principal } from './principal.js';
import type { Upload } from './upload.js';
import type { UploadService } from './uploads.js';

const MAX_NAME_LENGTH = 255;
const CONTROL = /[\u0000-\u001f\u007f]/;

/** What a client says of the file a name stands for, with every chunk. */
export type FileShape = Pick<ChunkedCreateRequest, 'size' | 'chunkSize' | 'layout'>;

/**
 * Chunked uploads that clients name themselves (flow.js and resumable.js send an identifier of
 * their choosing with every chunk, and no upload id). A name is scoped to its owner and protocol,
 * is only ever a database key, and stands for one upload at a time: once that upload has ended, or
 * its file has been deleted, the name starts a new one.
 */
export class NamedUploads {
  constructor(
    private readonly protocol: string,
    private readonly deps: { readonly chunked: ChunkedUploads; readonly uploads: UploadService; readonly meta: MetaStore },
  ) {}

  /**
   * The upload the name stands for, or null when there is none (or only a finished-with one). Its
   * parameters must be those of `file`: a client testing for chunks of another file must not be
   * told they are stored.
   */
  async find(owner: Principal, name: string, file: FileShape): Promise<ChunkedStatus | null> {
    const id = await this.deps.meta.uploads.findAlias(owner.userId, this.protocol, checkName(name));
    const upload = id === null ? null : await this.live(owner, id);
    return upload ? this.sameFile(owner, upload, file) : null;
  }

  /**
   * The upload the name stands for, created from `request` when there is none. Its parameters must
   * agree with the existing upload's: a name reused for a different file is refused.
   */
  async findOrCreate(owner: Principal, name: string, request: ChunkedCreateRequest): Promise<ChunkedStatus> {
    const { chunked, meta } = this.deps;
    const alias = checkName(name);
    const previous = await meta.uploads.findAlias(owner.userId, this.protocol, alias);
    const existing = previous === null ? null : await this.live(owner, previous);
    if (existing) return this.sameFile(owner, existing, request);
    const created = await chunked.create(owner, request);
    const winner = await meta.uploads.claimAlias(owner.userId, this.protocol, alias, created.upload.id, previous);
    if (winner === created.upload.id) return created;
    // Another request created the upload for this name at the same moment: use that one, if it is
    // for the same file.
    await chunked.cancel(owner, created.upload.id);
    return this.sameFile(owner, await this.deps.uploads.get(owner, winner), request);
  }

  private async sameFile(owner: Principal, upload: Upload, file: FileShape): Promise<ChunkedStatus> {
    const status = await this.deps.chunked.status(owner, upload.id);
    if (upload.size !== file.size || upload.chunkSize !== file.chunkSize || status.chunkCount !== chunkCountFor(file.size, file.chunkSize!, file.layout)) {
      throw new FerryError('invalid_request', 'this identifier is in use for a file of another size or chunking');
    }
    return status;
  }

  private async live(owner: Principal, id: string): Promise<Upload | null> {
    try {
      const upload = await this.deps.uploads.get(owner, id);
      if (upload.state === 'completed') await this.deps.uploads.completedFile(owner, id);
      return upload;
    } catch (err) {
      if (isFerryError(err, 'upload_gone') || isFerryError(err, 'upload_not_found')) return null;
      throw err;
    }
  }
}

function checkName(name: string): string {
  if (name === '' || name.length > MAX_NAME_LENGTH || CONTROL.test(name)) {
    throw new FerryError('invalid_request', `the identifier must be 1 to ${MAX_NAME_LENGTH} printable characters`);
  }
  return name;
}
