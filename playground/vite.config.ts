// The playground: `npm run playground` serves it (Vite), `npm run
// playground:build` writes a static site to dist/playground/. The page and
// its worker bundle the compiler's and the runtime's own modules; the
// "dlt-source" condition makes `dlt/runtime` the sources (one runtime).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  base: "./",
  resolve: { conditions: ["dlt-source", "browser", "module", "import", "default"] },
  build: { outDir: fileURLToPath(new URL("../dist/playground", import.meta.url)), emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 4000 },
  worker: { format: "es" },
  server: { port: 5173, strictPort: false, fs: { allow: [fileURLToPath(new URL("..", import.meta.url))] } },
  esbuild: { target: "es2022" },
  optimizeDeps: { esbuildOptions: { target: "es2022" } },
});
