import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The page at `/`, built into dist/web, which src/http/page.ts serves.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // The preload polyfill is for browsers older than the ES2022 ones the page targets anyway.
    modulePreload: { polyfill: false },
  },
  worker: { format: 'es' },
});
