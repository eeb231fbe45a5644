/**
 * End to end with tus-js-client v4 (its Node build) against Ferry in this process: tus 1.0 and the
 * two IETF draft flavours the client speaks. Every case compares the stored bytes with the source
 * by SHA-256.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tus from 'tus-js-client';
import {
  MiB,
  downloadSha256,
  extendedFilename,
  idOfUrl,
  makeTempDir,
  removeDir,
  sleep,
  tusOffset,
  withTimeout,
  writeRandomFile,
  type SourceFile,
} from '../helpers/e2e.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { LOCAL_USER } from '../../src/core/principal.js';
import { createUser } from '../helpers/users.js';

type Protocol = 'tus-v1' | 'ietf-draft-03' | 'ietf-draft-05';
const PROTOCOLS: readonly Protocol[] = ['tus-v1', 'ietf-draft-03', 'ietf-draft-05'];

/** The client's options, with `protocol`, which its type definitions leave out. */
type Options = tus.UploadOptions & { protocol?: Protocol };
type UploadInput = Buffer | ReturnType<typeof createReadStream>;

/** FileUrlStorage is exported by the Node build but missing from the type definitions. */
const FileUrlStorage = (tus as unknown as { FileUrlStorage: new (path: string) => tus.UrlStorage }).FileUrlStorage;

const CHUNK = 1 * MiB;
/** Not a multiple of the chunk size, so the last chunk is a short one. */
const SOURCE_SIZE = 5 * MiB + 12_345;
const UPLOAD_TIMEOUT_MS = 30_000;

/** What the client sent and got back, request by request, in order. */
interface Exchange {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  status?: number;
  responseHeaders?: Readonly<Record<string, string | undefined>>;
}

const REQUEST_HEADERS = [
  'Tus-Resumable', 'Upload-Draft-Interop-Version', 'Upload-Offset', 'Upload-Length', 'Upload-Defer-Length',
  'Upload-Concat', 'Upload-Complete', 'Upload-Metadata', 'Content-Type', 'X-HTTP-Method-Override',
];
const RESPONSE_HEADERS = ['Upload-Offset', 'Upload-Length', 'Location', 'Upload-Complete'];

function recorder(): { exchanges: Exchange[]; hooks: Pick<Options, 'onBeforeRequest' | 'onAfterResponse'> } {
  const exchanges: Exchange[] = [];
  const byRequest = new Map<tus.HttpRequest, Exchange>();
  return {
    exchanges,
    hooks: {
      onBeforeRequest: (req) => {
        const headers: Record<string, string | undefined> = {};
        for (const name of REQUEST_HEADERS) headers[name] = req.getHeader(name);
        const exchange: Exchange = { method: req.getMethod(), url: req.getURL(), headers };
        exchanges.push(exchange);
        byRequest.set(req, exchange);
      },
      onAfterResponse: (req, res) => {
        const exchange = byRequest.get(req);
        if (!exchange) return;
        exchange.status = res.getStatus();
        const headers: Record<string, string | undefined> = {};
        for (const name of RESPONSE_HEADERS) headers[name] = res.getHeader(name);
        exchange.responseHeaders = headers;
      },
    },
  };
}

/** Runs an upload to its end; rejects on the client's error or when it takes too long. */
async function runUpload(input: UploadInput, options: Options, prepare?: (upload: tus.Upload) => Promise<void>): Promise<tus.Upload> {
  let upload!: tus.Upload;
  const finished = new Promise<void>((resolve, reject) => {
    upload = new tus.Upload(input, {
      ...options,
      onSuccess: () => resolve(),
      onError: (err) => reject(err),
    } as tus.UploadOptions);
  });
  if (prepare) await prepare(upload);
  upload.start();
  try {
    await withTimeout(finished, UPLOAD_TIMEOUT_MS, `tus-js-client upload (${options.protocol ?? 'tus-v1'})`);
  } catch (err) {
    await upload.abort().catch(() => undefined);
    throw err;
  }
  return upload;
}

function expectedProtocolHeaders(protocol: Protocol): Record<string, string | undefined> {
  if (protocol === 'ietf-draft-03') return { 'Upload-Draft-Interop-Version': '5', 'Tus-Resumable': undefined };
  if (protocol === 'ietf-draft-05') return { 'Upload-Draft-Interop-Version': '6', 'Tus-Resumable': undefined };
  return { 'Tus-Resumable': '1.0.0', 'Upload-Draft-Interop-Version': undefined };
}

describe('tus-js-client v4 against Ferry', () => {
  let server: TestServer;
  let dir: string;
  let source: SourceFile;
  let sourceBytes: Buffer;

  before(async () => {
    dir = await makeTempDir('ferry-e2e-tusjs-');
    source = await writeRandomFile(join(dir, 'source.bin'), SOURCE_SIZE);
    sourceBytes = await readFile(source.path);
    server = await startTestServer();
  });

  after(async () => {
    await server?.stop();
    await removeDir(dir);
  });

  /** The upload's bytes as the server serves them, and what it recorded, match the source. */
  async function assertStoredMatchesSource(uploadUrl: string, expected: SourceFile = source): Promise<void> {
    const download = await downloadSha256(uploadUrl);
    assert.equal(download.status, 200, `GET ${uploadUrl}`);
    assert.equal(download.bytes, expected.size, 'downloaded byte count');
    assert.equal(download.sha256, expected.sha256, 'SHA-256 of the downloaded bytes');
    assert.equal(download.headers.etag, `"${expected.sha256}"`, 'ETag of the download');
    const stored = await server.uploads.get(LOCAL_USER, idOfUrl(uploadUrl));
    assert.equal(stored.state, 'completed');
    assert.equal(stored.size, expected.size);
    assert.equal(stored.offset, expected.size);
    assert.equal(stored.sha256, expected.sha256, 'SHA-256 the server recorded');
  }

  for (const protocol of PROTOCOLS) {
    describe(`protocol ${protocol}`, () => {
      test('a full upload in several chunks', async () => {
        const { exchanges, hooks } = recorder();
        const upload = await runUpload(createReadStream(source.path), {
          endpoint: server.endpoint,
          protocol,
          chunkSize: CHUNK,
          retryDelays: null,
          metadata: { filename: 'full.bin' },
          ...hooks,
        });
        assert.ok(upload.url, 'the upload has a URL');
        assert.ok(upload.url.startsWith(server.endpoint), `${upload.url} is under ${server.endpoint}`);

        const patches = exchanges.filter((e) => e.method === 'PATCH');
        assert.equal(patches.length, Math.ceil(SOURCE_SIZE / CHUNK), 'one PATCH per chunk');
        assert.deepEqual(patches.map((e) => Number(e.headers['Upload-Offset'])), patches.map((_, i) => i * CHUNK));
        for (const exchange of exchanges) {
          for (const [name, value] of Object.entries(expectedProtocolHeaders(protocol))) {
            assert.equal(exchange.headers[name], value, `${exchange.method} ${name}`);
          }
        }
        if (protocol !== 'tus-v1') {
          // Only the chunks before the last: tus-js-client's file-stream source never reports the last
          // slice as done, so it sends Upload-Complete: ?0 on it too and the server completes the upload
          // because its known length is reached.
          assert.deepEqual(patches.slice(0, -1).map((e) => e.headers['Upload-Complete']), patches.slice(0, -1).map(() => '?0'));
          assert.equal(patches.at(-1)?.responseHeaders?.['Upload-Complete'], '?1', 'the last response says the upload is complete');
        }
        await assertStoredMatchesSource(upload.url);
      });

      for (const where of ['between chunks', 'mid-request'] as const) {
        // Between chunks, the new tus.Upload finds the upload in URL storage; mid-request, it is given the URL.
        const how = where === 'between chunks' ? 'findPreviousUploads()' : 'the uploadUrl option';
        test(`an upload interrupted ${where} resumes from the server offset with a new tus.Upload via ${how}`, async (t) => {
          const urlStorage = new FileUrlStorage(join(dir, `url-storage-${protocol}-${where.replace(/ /g, '-')}.json`));
          const abortAt = Math.floor(SOURCE_SIZE * 0.45);
          let firstUpload!: tus.Upload;
          let abortedAfter = -1;
          const interrupted = new Promise<void>((resolve, reject) => {
            const abort = (bytes: number) => {
              abortedAfter = bytes;
              firstUpload.abort().then(resolve, reject);
            };
            firstUpload = new tus.Upload(sourceBytes, {
              endpoint: server.endpoint,
              protocol,
              chunkSize: CHUNK,
              retryDelays: null,
              urlStorage,
              onChunkComplete: (_chunk, accepted) => {
                if (where === 'between chunks' && abortedAfter < 0 && accepted >= abortAt) abort(accepted);
              },
              onProgress: (sent) => {
                // Progress inside a chunk comes while its PATCH body is being written.
                if (where === 'mid-request' && abortedAfter < 0 && sent >= abortAt && sent % CHUNK !== 0) abort(sent);
              },
              onSuccess: () => reject(new Error('the first upload finished although it was aborted')),
              onError: (err) => reject(err),
            } as Options);
          });
          firstUpload.start();
          await withTimeout(interrupted, UPLOAD_TIMEOUT_MS, 'first, interrupted upload');
          const uploadUrl = firstUpload.url;
          assert.ok(uploadUrl, 'the interrupted upload was created');

          // An aborted request may still be settling on the server: wait until the offset holds still.
          const serverOffset = await stableOffset(uploadUrl);
          t.diagnostic(`aborted after ${abortedAfter} bytes sent; the server kept ${serverOffset}`);
          assert.ok(serverOffset > 0, `the server kept some bytes (offset ${serverOffset})`);
          assert.ok(serverOffset < SOURCE_SIZE, 'the upload is not complete yet');
          assert.ok(serverOffset <= abortedAfter, `offset ${serverOffset} <= bytes sent ${abortedAfter}`);
          if (where === 'between chunks') assert.equal(serverOffset, abortedAfter, 'every accepted chunk was kept');
          else assert.ok(serverOffset >= Math.floor(abortedAfter / CHUNK) * CHUNK, 'the chunks acknowledged before the aborted one were kept');

          const { exchanges, hooks } = recorder();
          const resumed = await runUpload(
            sourceBytes,
            {
              endpoint: server.endpoint,
              protocol,
              chunkSize: CHUNK,
              // A request that reaches the server before the aborted one let go may meet 409 or 423.
              retryDelays: [200, 1000],
              urlStorage,
              ...(where === 'mid-request' ? { uploadUrl } : {}),
              ...hooks,
            },
            async (upload) => {
              if (where !== 'between chunks') return;
              const previous = await upload.findPreviousUploads();
              const match = previous.find((p) => p.uploadUrl === uploadUrl);
              assert.ok(match, `findPreviousUploads() lists ${uploadUrl} (found ${JSON.stringify(previous.map((p) => p.uploadUrl))})`);
              upload.resumeFromPreviousUpload(match);
            },
          );
          assert.equal(resumed.url, uploadUrl, 'the resumed upload kept the URL');
          assert.equal(exchanges.filter((e) => e.method === 'POST').length, 0, 'no new upload was created');
          assert.equal(exchanges[0]?.method, 'HEAD', 'resuming starts with a HEAD');
          const headOffset = Number(exchanges[0]?.responseHeaders?.['Upload-Offset']);
          assert.equal(headOffset, serverOffset, 'the HEAD reported the server offset');
          const firstPatch = exchanges.find((e) => e.method === 'PATCH');
          assert.ok(firstPatch, 'the resumed upload sent data');
          assert.equal(Number(firstPatch.headers['Upload-Offset']), serverOffset, 'the first PATCH starts at the server offset, not at zero');
          if (protocol !== 'tus-v1') {
            const lastPatch = exchanges.filter((e) => e.method === 'PATCH').at(-1);
            assert.equal(lastPatch?.headers['Upload-Complete'], '?1', 'a buffer source marks its last chunk complete');
            assert.equal(lastPatch?.status, 200, 'the completing append answers 200');
            assert.equal(lastPatch?.responseHeaders?.['Upload-Complete'], '?1');
          }
          await assertStoredMatchesSource(uploadUrl);
        });
      }
    });
  }

  describe('tus-v1 only', () => {
    test('uploadLengthDeferred: the length is declared by the last PATCH', async () => {
      const { exchanges, hooks } = recorder();
      let midUpload: Promise<{ size: number | null; offset: number }> | null = null;
      let upload!: tus.Upload;
      upload = await runUpload(sourceBytes, {
        endpoint: server.endpoint,
        chunkSize: CHUNK,
        retryDelays: null,
        uploadLengthDeferred: true,
        onChunkComplete: () => {
          if (midUpload === null && upload?.url) midUpload = server.uploads.get(LOCAL_USER, idOfUrl(upload.url));
        },
        ...hooks,
      }, async (u) => { upload = u; });
      assert.ok(upload.url);

      const creation = exchanges.find((e) => e.method === 'POST');
      assert.equal(creation?.headers['Upload-Defer-Length'], '1');
      assert.equal(creation?.headers['Upload-Length'], undefined);
      const patches = exchanges.filter((e) => e.method === 'PATCH');
      assert.ok(patches.length >= 2, 'several PATCH requests');
      assert.deepEqual(patches.slice(0, -1).map((e) => e.headers['Upload-Length']), patches.slice(0, -1).map(() => undefined));
      assert.equal(patches.at(-1)?.headers['Upload-Length'], String(SOURCE_SIZE), 'the last PATCH declares the length');
      assert.ok(midUpload, 'the upload was seen mid-way');
      const mid = await (midUpload as Promise<{ size: number | null; offset: number }>);
      assert.equal(mid.size, null, 'the length stayed deferred until the last PATCH');
      assert.ok(mid.offset > 0 && mid.offset < SOURCE_SIZE);
      await assertStoredMatchesSource(upload.url);
    });

    test('metadata with a non-ASCII file name reaches the download Content-Disposition', async () => {
      const filename = 'Ünïcödé résumé — 報告 (v2) 🚀.bin';
      const upload = await runUpload(createReadStream(source.path), {
        endpoint: server.endpoint,
        chunkSize: 2 * MiB,
        retryDelays: null,
        metadata: { filename, filetype: 'text/plain' },
      });
      assert.ok(upload.url);
      const stored = await server.uploads.get(LOCAL_USER, idOfUrl(upload.url));
      assert.equal(stored.metadata.filename, filename, 'the metadata was decoded as UTF-8');

      const head = await tusOffset(upload.url);
      const echoed = Object.fromEntries(
        String(head.response.headers['upload-metadata'] ?? '').split(',').map((pair) => {
          const [key, value] = pair.trim().split(' ');
          return [key, value === undefined ? null : Buffer.from(value, 'base64').toString('utf8')];
        }),
      );
      assert.equal(echoed.filename, filename, 'HEAD echoes the metadata');

      const download = await downloadSha256(upload.url);
      assert.equal(download.status, 200);
      assert.equal(download.sha256, source.sha256);
      const disposition = download.headers['content-disposition'];
      assert.ok(disposition?.includes("filename*=UTF-8''"), `Content-Disposition carries filename*: ${disposition}`);
      assert.equal(extendedFilename(disposition), filename, 'filename* decodes to the original name');
      assert.match(disposition ?? '', /filename="[\x20-\x7e]*"/, 'the plain filename is an ASCII fallback');
      assert.equal(download.headers['content-type'], 'text/plain');
      await assertStoredMatchesSource(upload.url);
    });

    test('parallelUploads: 3 uses partial uploads and a final concatenation', async () => {
      const { exchanges, hooks } = recorder();
      const upload = await runUpload(sourceBytes, {
        endpoint: server.endpoint,
        parallelUploads: 3,
        chunkSize: CHUNK,
        retryDelays: null,
        metadata: { filename: 'parallel.bin' },
        ...hooks,
      });
      assert.ok(upload.url);
      const posts = exchanges.filter((e) => e.method === 'POST');
      const partials = posts.filter((e) => e.headers['Upload-Concat'] === 'partial');
      const finals = posts.filter((e) => e.headers['Upload-Concat']?.startsWith('final;'));
      assert.equal(partials.length, 3, 'three partial uploads');
      assert.equal(finals.length, 1, 'one final upload');
      assert.equal(finals[0]?.status, 201);

      const partialUrls = partials.map((e) => new URL(String(e.responseHeaders?.Location), server.endpoint).toString());
      let partialBytes = 0;
      for (const url of partialUrls) {
        const part = await server.uploads.get(LOCAL_USER, idOfUrl(url));
        assert.equal(part.state, 'completed');
        assert.deepEqual(part.concat, { kind: 'partial' });
        partialBytes += part.size ?? 0;
      }
      assert.equal(partialBytes, SOURCE_SIZE, 'the parts add up to the file');
      const final = await server.uploads.get(LOCAL_USER, idOfUrl(upload.url));
      assert.equal(final.concat?.kind, 'final');
      const listed = finals[0]!.headers['Upload-Concat']!.slice('final;'.length).trim().split(/ +/);
      assert.deepEqual([...listed.map(idOfUrl)].sort(), [...partialUrls.map(idOfUrl)].sort(), 'the final upload lists the partial ones');
      assert.deepEqual(final.concat?.kind === 'final' ? final.concat.parts : null, listed.map(idOfUrl), 'in the order the client gave');
      await assertStoredMatchesSource(upload.url);
    });

    test('overridePatchMethod: chunks go as POST with X-HTTP-Method-Override: PATCH', async () => {
      const { exchanges, hooks } = recorder();
      const upload = await runUpload(createReadStream(source.path), {
        endpoint: server.endpoint,
        chunkSize: CHUNK,
        retryDelays: null,
        overridePatchMethod: true,
        ...hooks,
      });
      assert.ok(upload.url);
      assert.equal(exchanges.filter((e) => e.method === 'PATCH').length, 0, 'no real PATCH was sent');
      const tunnelled = exchanges.filter((e) => e.method === 'POST' && e.headers['X-HTTP-Method-Override'] === 'PATCH');
      assert.equal(tunnelled.length, Math.ceil(SOURCE_SIZE / CHUNK), 'every chunk was tunnelled through POST');
      for (const exchange of tunnelled) assert.equal(exchange.status, 204, 'a tunnelled PATCH answers 204');
      await assertStoredMatchesSource(upload.url);
    });
  });

  /** Polls HEAD until the offset holds still for a few readings (an aborted request may still be settling). */
  async function stableOffset(uploadUrl: string): Promise<number> {
    const deadline = Date.now() + 10_000;
    let last = -1;
    let same = 0;
    while (Date.now() < deadline) {
      const { offset } = await tusOffset(uploadUrl);
      same = offset === last ? same + 1 : 0;
      last = offset;
      if (same >= 3) return offset;
      await sleep(50);
    }
    throw new Error(`the offset of ${uploadUrl} did not settle within 10 s (last ${last})`);
  }
});

describe('tus-js-client with accounts (FERRY_AUTH=required)', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer({ auth: 'required' }); });
  after(async () => server.stop());

  test('an upload with a token lands in its owner\'s library, and nobody else\'s', async () => {
    const alice = await createUser(server, 'alice');
    const bob = await createUser(server, 'bob');
    const bytes = randomBytes(2 * MiB + 77);
    const upload = await runUpload(bytes, {
      endpoint: server.endpoint,
      chunkSize: CHUNK,
      retryDelays: null,
      headers: alice.auth,
      metadata: { filename: 'reports/q3 résumé.pdf', filetype: 'application/pdf' },
    });
    const list = async (user: typeof alice) => {
      const response = await fetch(`${server.url}/api/v1/files`, { headers: user.auth });
      return ((await response.json()) as { files: { name: string; size: number; sha256: string; type: string }[] }).files;
    };
    const [file] = await list(alice);
    assert.deepEqual(file && { name: file.name, size: file.size, type: file.type, sha256: file.sha256 }, {
      name: 'reports/q3 résumé.pdf', size: bytes.length, type: 'application/pdf', sha256: createHash('sha256').update(bytes).digest('hex'),
    });
    assert.deepEqual(await list(bob), []);
    const peek = await fetch(upload.url!, { method: 'HEAD', headers: { ...bob.auth, 'Tus-Resumable': '1.0.0' } });
    assert.equal(peek.status, 404);
  });

  test('without a token the client fails with 401 and nothing is stored', async () => {
    await assert.rejects(
      runUpload(randomBytes(1000), { endpoint: server.endpoint, retryDelays: null }),
      (err: Error & { originalResponse?: tus.HttpResponse }) => err.originalResponse?.getStatus() === 401,
    );
  });
});
