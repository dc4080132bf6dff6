// A plain static file server on localhost for the playground's static build
// (dist/playground/): what the browser tests and the speed bench serve it
// with, to show that no dev server is needed. Paths outside `root` are refused.
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { extname, join, resolve } from "node:path";

const TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".bin": "application/octet-stream" };

/** Serves `root` on 127.0.0.1 at a free port; resolves to the server and its origin. */
export async function serveStatic(root: string): Promise<{ server: Server; origin: string }> {
  const base = resolve(root);
  const server = createServer((req, res) => {
    let p = resolve(join(base, decodeURIComponent(new URL(req.url ?? "/", "http://localhost").pathname)));
    if (!p.startsWith(base)) p = base;
    if (existsSync(p) && statSync(p).isDirectory()) p = join(p, "index.html");
    if (!existsSync(p)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(p)] ?? "application/octet-stream" }).end(readFileSync(p));
  }).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  return { server, origin: `http://localhost:${(server.address() as { port: number }).port}` };
}
