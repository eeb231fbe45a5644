// Client process of the native case, so that its CPU and memory stay out of
// the harness and the server. Input: one JSON argument (NativeJob). Output: one
// JSON line (NativeClientResult) on stdout; exit code 0 only if the upload succeeded.
import { uploadNative, type NativeJob, type NativeResult } from './native-client.js';

export type NativeClientResult = ({ ok: true } & NativeResult) | { ok: false; error: string };

async function main(): Promise<NativeClientResult> {
  const arg = process.argv[2];
  if (arg === undefined) throw new Error('usage: native-upload.js <json job>');
  return { ok: true, ...(await uploadNative(JSON.parse(arg) as NativeJob)) };
}

main()
  .catch((err: unknown): NativeClientResult => ({ ok: false, error: err instanceof Error ? err.message : String(err) }))
  .then((result) => {
    process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(result.ok ? 0 : 1));
  });
