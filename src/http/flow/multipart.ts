import busboy from 'busboy';
import type { Readable } from 'node:stream';
import { FerryError } from '../../core/errors.js';
import type { HttpRequest } from '../exchange.js';

const FIELD_BYTES = 4096;

export interface FilePart {
  readonly stream: Readable;
  readonly mimeType: string;
}

/**
 * Streams a multipart/form-data request: the text fields that come before the file field are
 * collected, then `onFile` gets them with the file's stream, which it must consume. The chunk is
 * never held in memory. Fields after the file and any other file are ignored.
 */
export async function receiveMultipart<T>(
  request: HttpRequest,
  fileField: string,
  onFile: (fields: Readonly<Record<string, string>>, file: FilePart) => Promise<T>,
): Promise<T> {
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: request.headers, limits: { fields: 50, fieldSize: FIELD_BYTES, files: 1, parts: 60 } });
  } catch {
    throw new FerryError('invalid_request', 'the body is not multipart/form-data with a boundary');
  }
  const fields: Record<string, string> = {};
  let handled: Promise<T> | null = null;
  let refused = false;
  const parsed = new Promise<void>((resolve, reject) => {
    // A field cut short by the limit would be taken for another value (an identifier, a name): the
    // form is refused instead, and its file is not taken.
    parser.on('field', (name, value, info) => {
      if (!info.nameTruncated && !info.valueTruncated) fields[name] = value;
      else if (!handled && !refused) {
        refused = true;
        reject(new FerryError('invalid_request', `the form field ${name.slice(0, 40)} is longer than ${FIELD_BYTES} bytes`));
      }
    });
    parser.on('file', (name, stream, info) => {
      // Its errors reach whoever reads it; stopping the parser early must not leave one unheard.
      stream.on('error', () => undefined);
      if (name !== fileField || handled || refused) {
        stream.resume();
        return;
      }
      // Called in a promise so that even a handler that throws at once cannot throw into the parser.
      handled = Promise.resolve().then(() => onFile({ ...fields }, { stream, mimeType: info.mimeType }));
      // A handler that gives up before the end of the file (bad parameters, a chunk too long)
      // leaves the parser waiting for the rest: stop parsing and let the rest of the body go.
      handled.catch((err: unknown) => {
        request.raw.unpipe(parser);
        parser.destroy();
        request.raw.resume();
        reject(err);
      });
    });
    parser.on('close', resolve);
    parser.on('error', () => reject(new FerryError('invalid_request', 'the multipart body is malformed')));
  });
  // A client that goes away mid-form leaves the parser waiting for a boundary that never comes.
  request.raw.once('close', () => {
    if (!request.raw.complete) parser.destroy(new FerryError('client_aborted', 'the client went away mid-form'));
  });
  request.raw.pipe(parser);
  await parsed;
  if (!handled) throw new FerryError('invalid_request', `the form has no file field named "${fileField}"`);
  return handled;
}
