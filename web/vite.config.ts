/**
 * Builds the web app (React + TanStack Router/Query) into dist/app/, which the server serves at `/`
 * (src/web/app.routes.ts). Hashed files go to dist/app/static/ and are served immutable; each
 * also gets a `.br` and `.gz` sibling so the server sends them precompressed.
 */
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const outDir = fileURLToPath(new URL('../dist/app', import.meta.url));

/** Writes `.br` and `.gz` next to every compressible file of the build (the server picks by Accept-Encoding). */
function precompress(): Plugin {
  return {
    name: 'gatehouse-precompress',
    apply: 'build',
    closeBundle() {
      const walk = (dir: string): string[] =>
        readdirSync(dir).flatMap((name) => {
          const path = join(dir, name);
          return statSync(path).isDirectory() ? walk(path) : [path];
        });
      for (const file of walk(outDir)) {
        if (!/\.(js|css|html|svg|json)$/.test(file)) continue;
        const body = readFileSync(file);
        if (body.length < 1024) continue;
        writeFileSync(`${file}.br`, brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
        writeFileSync(`${file}.gz`, gzipSync(body, { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react(), precompress()],
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: 'static',
    // No inline <script> or data: modules: the page is served under a strict CSP (script-src 'self').
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: true,
    chunkSizeWarningLimit: 400,
  },
  server: {
    // `npm run dev:web`: the Vite dev server proxies the API to a Gatehouse started with `npm start`.
    proxy: {
      '/api': { target: 'http://127.0.0.1:3000', ws: true },
      '/docs': 'http://127.0.0.1:3000',
      '/openapi.json': 'http://127.0.0.1:3000',
    },
  },
});
