// The native case: the whole source file as one upload through Ferry's chunk
// API, 8 MiB chunks with their Content-Digest, 4 connections taking chunks
// from one queue. Baseline: the raw server receiving the same chunks over 4
// connections, each written at its offset. @tus/server has no parallel-chunk
// API (and its stores lack tus concatenation), so it has no figure here.
import { measureCase, runClient, type Driven } from './case.js';
import { NATIVE_CONNECTIONS, type ServerName } from './config.js';
import type { NativeJob } from './native-client.js';
import type { NativeClientResult } from './native-upload.js';
import type { Row } from './report.js';
import type { SourceFile } from './source.js';
import { checkDownload, checkUpload } from './verify.js';

export const NATIVE_UNSUPPORTED: Partial<Record<ServerName, string>> = {
  'tus-server': 'no parallel-chunk API (its stores lack tus concatenation)',
};

export async function runNativeCase(server: ServerName, src: SourceFile, runDir: string): Promise<Row> {
  const skipped = NATIVE_UNSUPPORTED[server];
  if (skipped !== undefined) return { server, caseName: 'native', bytes: src.size, metrics: null, error: null, skipped };
  return measureCase(server, 'native', src.size, runDir, async (running, dataDir): Promise<Driven> => {
    const job: NativeJob = {
      target: server === 'ferry' ? 'ferry' : 'raw',
      base: running.base,
      name: 'bench-native.bin',
      file: src.path,
      start: 0,
      length: src.size,
      sha256: src.sha256,
      chunkSize: src.chunks.size,
      // Hashed when the source was written, so the client does no hashing while it is timed.
      digests: src.chunks.sha256Base64,
      connections: NATIVE_CONNECTIONS,
    };
    const result = await runClient<NativeClientResult>('native-upload.js', job);
    if (!result.ok) throw new Error(result.error);
    return {
      wallMs: result.wallMs,
      check: async () => {
        const want = { sha256: src.sha256, length: src.size };
        const wrong: string[] = [];
        if (result.file !== null && (result.file.sha256 !== src.sha256 || result.file.size !== src.size)) {
          wrong.push(`file record: ${result.file.size} bytes, SHA-256 ${result.file.sha256}`);
        }
        const problem = server === 'ferry'
          ? await checkDownload(result.url, want)
          : await checkUpload({ name: server, dataDir, endpoint: running.endpoint }, result.url, want);
        if (problem !== null) wrong.push(problem);
        return { wrong: wrong.length > 0 ? [wrong.join('; ')] : [], total: 1 };
      },
    };
  });
}
