// Vite builds ui/dist, which Tauri embeds in the app (tauri.conf.json frontendDist).
// Relative asset paths: the app serves the files from its own protocol.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  base: './',
  esbuild: { jsx: 'automatic' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2021', chunkSizeWarningLimit: 800 },
  server: { port: 1420, strictPort: true },
  test: { environment: 'jsdom', globals: true, include: ['src/**/*.test.{ts,tsx}'] },
});
