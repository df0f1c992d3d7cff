import { defineConfig } from 'vitest/config';

/** Where `npm run dev` forwards the API (`cryptopulse api` listens here by default). */
const API_ORIGIN = process.env.CRYPTOPULSE_API_ORIGIN ?? 'http://127.0.0.1:8000';

export default defineConfig({
  // Relative asset URLs: the build works at / (API server) and under any sub-path (nginx, ingress).
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
  },
  server: {
    proxy: {
      '/ws': { target: API_ORIGIN, ws: true },
      '/api': { target: API_ORIGIN },
    },
  },
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
    restoreMocks: true,
    unstubGlobals: true,
  },
});
