import { defineConfig } from 'vite';

// No React plugin: Vite compiles TSX (automatic JSX runtime) on its own,
// and the build stays small and reproducible. The dev server proxies the API to a running
// `rookery serve` (ROOKERY_URL, default http://localhost:8080); the Origin
// header is rewritten so the server's same-origin check accepts the
// proxied cookie requests.
const target = process.env.ROOKERY_URL ?? 'http://localhost:8080';

export default defineConfig({
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
