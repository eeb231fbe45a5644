import type { Readable } from 'node:stream';
import { FerryError } from '../../core/errors.js';
import type { HttpRequest } from '../exchange.js';
import { multipartParser, tooLongField, tooManyFields } from './params.js';

export interface FormFile {
  readonly stream: Readable;
  /** The name the client gave the file part; a client's name, to be cleaned before use. */
  readonly filename: string;
  readonly mimeType: string;
}

/**
 * Streams a multipart/form-data request: the fields that come before the file are collected, then
 * `onFile` gets them with the file's stream, which it must consume. The file is never held in
 * memory. `field` names the file part to take, or null for the first file whatever its name;
 * other files and fields after the file are ignored. A client that goes away mid-file makes the
 * file stream fail (busboy on its own would wait for the rest of the form forever).
 */
export async function receiveFormFile<T>(
  request: HttpRequest,
  field: string | null,
  onFile: (fields: readonly [string, string][], file: FormFile) => Promise<T>,
): Promise<T> {
  const parser = multipartParser(request, { fields: 50, fieldSize: 4096, files: 1, parts: 60 });
  const fields: [string, string][] = [];
  let handled: Promise<T> | null = null;
  /** Set when the fields before the file are refused: the file is then not taken. */
  let refused = false;
  const stop = () => {
    request.raw.unpipe(parser);
    parser.destroy();
    request.raw.resume();
  };
  const parsed = new Promise<void>((resolve, reject) => {
    const refuse = (err: FerryError) => {
      if (handled) return;
      refused = true;
      reject(err);
    };
    parser.on('field', (name, value, info) => {
      if (handled || refused) return;
      if (info.nameTruncated || info.valueTruncated) refuse(tooLongField(name));
      else fields.push([name, value]);
    });
    parser.on('fieldsLimit', () => refuse(tooManyFields()));
    parser.on('partsLimit', () => refuse(tooManyFields()));
    parser.on('file', (name, stream, info) => {
      // Its errors reach whoever reads it; stopping the parser early must not leave one unheard.
      stream.on('error', () => undefined);
      if ((field !== null && name !== field) || handled || refused) {
        stream.resume();
        return;
      }
      // Called in a promise so that a handler that throws at once (fields that contradict the
      // query) cannot throw into the parser, which would then wait for the rest of the form forever.
      handled = Promise.resolve().then(() => onFile([...fields], { stream, filename: info.filename ?? '', mimeType: info.mimeType }));
      // A handler that gives up before the end of the file leaves the parser waiting for the rest:
      // stop parsing and let the rest of the body go; the handler's error is the answer.
      handled.catch(() => {
        stop();
        resolve();
      });
    });
    parser.on('close', resolve);
    parser.on('error', () => reject(new FerryError('invalid_request', 'the multipart body is malformed or ended early')));
  });
  request.raw.once('close', () => {
    if (!request.raw.complete) parser.destroy(new FerryError('client_aborted', 'the client went away in the middle of the form'));
  });
  request.raw.pipe(parser);
  try {
    await parsed;
  } catch (err) {
    // A form that breaks off inside the file breaks the file's stream too, and the handler says
    // what became of it; one that breaks off after the file's closing boundary took the file whole.
    if (handled) return handled;
    stop();
    throw err;
  }
  if (!handled) {
    throw new FerryError('invalid_request', field === null ? 'the form has no file' : `the form has no file field named "${field}"`);
  }
  return handled;
}
