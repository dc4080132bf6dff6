// The MLP's training speed on the CPU path in the playground's worker
// (Chromium, headless) against Node, same spec, same steps, same sitting.
// Needs `npm run playground:build` and /usr/bin/chromium.
// Run: npx tsx --conditions=dlt-source bench/playground-speed.ts [STEPS]
import { chromium } from "playwright-core";
import { Model } from "../generated/mlp/model.ts";
import { loadData, train } from "../runtime/node/api.ts";
import { serveStatic } from "../playground/scripts/static-server.ts";

const steps = Number(process.argv[2] ?? 4000);
const { server, origin } = await serveStatic("dist/playground");

// Node: the same chunks the page trains in (resumes every 500 steps).
const model = new Model();
const splits = await loadData(model.desc);
const t0 = performance.now();
await train(model, splits, { maxSteps: steps });
const node = (steps * model.desc.data.batchSize * 1000) / (performance.now() - t0);

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-background-networking"] });
const page = await browser.newPage();
await page.goto(`${origin}/`);
await page.waitForFunction(() => document.getElementById("status")?.textContent?.startsWith("compiled"));
type P = { playground: { train(o: object): void; state(): { state: string; steps: number } } };
await page.evaluate((n) => (window as unknown as P).playground.train({ backend: "cpu", maxSteps: n, chunk: 500 }), steps);
await page.waitForFunction(() => (window as unknown as P).playground.state().steps > 0);
const t1 = Date.now();
const first = await page.evaluate(() => (window as unknown as P).playground.state().steps);
await page.waitForFunction(() => ["paused", "finished"].includes((window as unknown as P).playground.state().state), null, { timeout: 600_000 });
const inPage = ((steps - first) * model.desc.data.batchSize * 1000) / (Date.now() - t1);
await browser.close();
server.close();
console.log(`mlp, CPU path, ${steps} steps: Node ${Math.round(node)} examples/s, page (worker, Chromium) ${Math.round(inPage)} examples/s: Node/page ${(node / inPage).toFixed(2)}`);
