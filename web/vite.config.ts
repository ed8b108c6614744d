import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

// precompress writes a .gz and a .br beside every hashed asset of 1 KB or
// more, with node's own zlib (no extra tool), so the server sends the
// smallest form a browser accepts without compressing on each request.
function precompress(): Plugin {
  return {
    name: 'rookery-precompress',
    apply: 'build',
    writeBundle(options) {
      const dir = join(options.dir ?? 'dist', 'assets');
      for (const name of readdirSync(dir)) {
        if (!/\.(js|css|svg|json)$/.test(name)) continue;
        const data = readFileSync(join(dir, name));
        if (data.length < 1024) continue;
        writeFileSync(join(dir, `${name}.gz`), gzipSync(data, { level: 9 }));
        writeFileSync(
          join(dir, `${name}.br`),
          brotliCompressSync(data, {
            params: {
              [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
              [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
            },
          }),
        );
      }
    },
  };
}


// No React plugin: Vite compiles TSX (automatic JSX runtime) on its own,
// and the build stays small and reproducible. The dev server proxies the API to a running
// `rookery serve` (ROOKERY_URL, default http://localhost:8080); the Origin
// header is rewritten so the server's same-origin check accepts the
// proxied cookie requests.
const target = process.env.ROOKERY_URL ?? 'http://localhost:8080';

export default defineConfig({
  plugins: [precompress()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
    assetsInlineLimit: 0,
  },
  server: {
    port: 5173,
    proxy: {
      '/api': {
        target,
        changeOrigin: true,
        configure: (proxy) => {
          proxy.on('proxyReq', (req) => {
            if (req.getHeader('origin')) req.setHeader('origin', target);
          });
        },
      },
    },
  },
});
