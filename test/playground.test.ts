// The playground in a real browser: Debian's Chromium, headless, driven by
// playwright-core, with WebGPU on SwiftShader (no GPU here), the static
// build (`npm run playground:build`) served by a plain static file server on
// localhost. No Chromium is a failure, not a skip: .ci/run installs it.
//
// Stated tolerance on WebGPU: parameters within 1e-5 of the CPU run relative
// to each parameter's largest magnitude after 10 steps (as test/backends.test.ts).

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../compiler/cli/files.ts";
import { decodeSafetensors } from "../runtime/checkpoint/safetensors.ts";
import type { CompiledModel } from "../runtime/compiled-model.ts";
import { train } from "../runtime/node/api.ts";
import { loadData } from "../runtime/node/api.ts";
import { Model as LogregModel } from "../generated/logreg/model.ts";
import { compileAndLoad, removeCompiled } from "./setup/compiled-spec.ts";
import { serveStatic } from "../playground/scripts/static-server.ts";

const SITE = join(ROOT, "dist", "playground");
const CHROMIUM = "/usr/bin/chromium";
const TMP = mkdtempSync(join(tmpdir(), "dlt-playground-"));

let server: Server;
let browser: Browser;
let origin = "";

/** A fresh page of the playground, with its console errors, page errors and failed requests collected. */
async function openPage(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
  page.on("response", (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()}: ${r.url()}`));
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => document.getElementById("status")?.textContent?.startsWith("compiled"), null, { timeout: 60_000 });
  return { page, problems };
}

type PlaygroundState = { state: string; steps: number; records: number };
async function trainInPage(page: Page, opts: { backend: "cpu" | "webgpu"; maxSteps: number; chunk?: number; checkpoint?: number[] }): Promise<PlaygroundState> {
  await page.evaluate((o) => (window as unknown as { playground: { train(x: object): void } }).playground.train({ ...o, ...(o.checkpoint ? { checkpoint: new Uint8Array(o.checkpoint) } : {}) }), opts);
  await page.waitForFunction(() => ["paused", "finished", "stopped"].includes((window as unknown as { playground: { state(): PlaygroundState } }).playground.state().state), null, { timeout: 180_000 });
  return page.evaluate(() => (window as unknown as { playground: { state(): PlaygroundState } }).playground.state());
}

const pageCall = <T>(page: Page, name: string, ...args: unknown[]): Promise<T> =>
  page.evaluate(([n, a]) => (window as unknown as { playground: Record<string, (...x: unknown[]) => unknown> }).playground[n as string]!(...(a as unknown[])), [name, args] as const) as Promise<T>;

const paramsOf = (bytes: Uint8Array): Map<string, Float32Array> => {
  const st = decodeSafetensors(bytes, "checkpoint");
  return new Map([...st.tensors].filter(([k]) => k.startsWith("params/")).map(([k, t]) => [k.slice(7), t.data as Float32Array]));
};
/** The bytes of a typed array's own elements (a model's buffers are views into its WebAssembly memory). */
const bytesOf = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const maxRelErr = (got: Float32Array, want: Float32Array): number => {
  let scale = 1e-12;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / scale);
  return worst;
};

/** logreg trained in Node on the embedded digits: `steps` straight, or resumed from a checkpoint in `dir`. */
async function nodeRun(dir: string, steps: number, resume = false): Promise<CompiledModel> {
  const model = new LogregModel();
  await train(model, await loadData(model.desc), { outDir: dir, maxSteps: steps, resume, overwrite: !resume });
  return model;
}

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`).toBe(true);
  const built = spawnSync("npm", ["run", "playground:build"], { cwd: ROOT, encoding: "utf8", timeout: 300_000 });
  expect(built.status, built.stdout + built.stderr).toBe(0);
  ({ server, origin } = await serveStatic(SITE));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--enable-unsafe-webgpu", "--no-sandbox", "--enable-features=Vulkan", "--use-angle=swiftshader", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
  });
}, 400_000);

afterAll(async () => {
  removeCompiled();
  await browser?.close();
  server?.close();
  rmSync(TMP, { recursive: true, force: true });
});

describe("the playground, static build, in Chromium", () => {
  it("loads with no console error and no failed request; compiles the MLP in its worker to exactly generated/mlp/", async () => {
    const { page, problems } = await openPage();
    const files = await pageCall<Record<string, string>>(page, "files");
    for (const name of ["model.ts", "webgpu.ts", "train.ts", "loops-wasm.ts", "loops.wat"]) expect(files[name], name).toBe(readFileSync(join(ROOT, "generated/mlp", name), "utf8"));
    expect(problems).toEqual([]);
    await page.close();
  });

  it("a bad spec: the CLI's code at the right line, in the list and as an editor mark", async () => {
    const { page } = await openPage();
    const bad = readFileSync(join(ROOT, "specs/mlp.yaml"), "utf8").replace("  batch_size: 20", "  batch_sise: 20");
    const line = bad.split("\n").findIndex((l) => l.includes("batch_sise")) + 1;
    await pageCall(page, "setSpec", bad, "specs/mlp.yaml");
    await page.waitForSelector(`#diagnostics li[data-code="E003"][data-line="${line}"]`, { timeout: 30_000 });
    expect(await page.textContent("#diagnostics li")).toContain(`specs/mlp.yaml:${line}:3 error[E003]: unknown key 'batch_sise'`);
    await page.waitForSelector(".cm-lintRange-error", { timeout: 10_000 });
    await page.close();
  });

  it.each(["webgpu", "cpu"] as const)("logreg trains 200 steps on %s in the worker, and the cost falls", async (backend) => {
    const { page, problems } = await openPage();
    await pageCall(page, "setSpec", readFileSync(join(ROOT, "specs/logreg.yaml"), "utf8"), "specs/logreg.yaml");
    const s = await trainInPage(page, { backend, maxSteps: 200, chunk: 50 });
    expect(s.steps).toBe(200);
    expect(await pageCall<string>(page, "device")).toContain(backend === "webgpu" ? "WebGPU" : "CPU");
    const costs = await pageCall<number[]>(page, "costs");
    expect(costs.length).toBeGreaterThan(1);
    expect(costs.at(-1)!).toBeLessThan(costs[0]! * 0.8);
    expect(s.records).toBeGreaterThan(5);
    expect(problems).toEqual([]);
    await page.close();
  });

  it.each(["cpu", "webgpu"] as const)("parameters after 10 steps on %s equal the Node run of the same spec and seed", async (backend) => {
    const { page } = await openPage();
    await pageCall(page, "setSpec", readFileSync(join(ROOT, "specs/logreg.yaml"), "utf8"), "specs/logreg.yaml");
    await trainInPage(page, { backend, maxSteps: 10, chunk: 10 });
    const inPage = paramsOf(new Uint8Array(await pageCall<number[]>(page, "checkpoint")));
    const node = await nodeRun(join(TMP, `node-10-${backend}`), 10);
    for (const [name, want] of Object.entries(node.params)) {
      if (backend === "cpu") expect(bytesOf(inPage.get(name)!).equals(bytesOf(want)), name).toBe(true);
      else expect(maxRelErr(inPage.get(name)!, want), name).toBeLessThan(1e-5);
    }
    await page.close();
  });

  it("a checkpoint downloaded from the page resumes in Node, and one from Node resumes in the page; both equal 20 straight steps", async () => {
    const straight = await nodeRun(join(TMP, "straight-20"), 20);
    // Page → Node.
    const { page } = await openPage();
    await pageCall(page, "setSpec", readFileSync(join(ROOT, "specs/logreg.yaml"), "utf8"), "specs/logreg.yaml");
    await trainInPage(page, { backend: "cpu", maxSteps: 10, chunk: 10 });
    const fromPage = new Uint8Array(await pageCall<number[]>(page, "checkpoint"));
    const dir = join(TMP, "from-page");
    rmSync(dir, { recursive: true, force: true });
    spawnSync("mkdir", ["-p", dir]);
    writeFileSync(join(dir, "checkpoint.safetensors"), fromPage);
    const resumed = await nodeRun(dir, 20, true);
    for (const [name, want] of Object.entries(straight.params)) expect(bytesOf(resumed.params[name]!).equals(bytesOf(want)), `page→node ${name}`).toBe(true);
    // Node → page.
    await nodeRun(join(TMP, "node-10"), 10);
    const fromNode = [...readFileSync(join(TMP, "node-10", "checkpoint.safetensors"))];
    const s = await trainInPage(page, { backend: "cpu", maxSteps: 20, chunk: 10, checkpoint: fromNode });
    expect(s.steps).toBe(20);
    const inPage = paramsOf(new Uint8Array(await pageCall<number[]>(page, "checkpoint")));
    for (const [name, want] of Object.entries(straight.params)) expect(bytesOf(inPage.get(name)!).equals(bytesOf(want)), `node→page ${name}`).toBe(true);
    await page.close();
  });

  it("draw a digit: the page's probabilities equal the Node evaluation of the same image; the confusion matrix's error is dlt-eval's", async () => {
    const { page, problems } = await openPage();
    const text = readFileSync(join(ROOT, "specs/logreg.yaml"), "utf8");
    await pageCall(page, "setSpec", text, "specs/logreg.yaml");
    await trainInPage(page, { backend: "cpu", maxSteps: 30, chunk: 30 });
    // A "7": a bar across the top and a stroke down to the lower left.
    const seven: [number, number][] = [];
    for (let x = 70; x <= 210; x += 4) seven.push([x, 70]);
    for (let t = 0; t <= 1; t += 0.02) seven.push([210 - 90 * t, 70 + 150 * t]);
    const drawn = await pageCall<{ pixels: number[]; probabilities: number[] }>(page, "drawAndClassify", seven);
    expect(drawn.pixels.filter((v) => v > 0.5).length).toBeGreaterThan(20);
    expect(await page.locator("#probabilities li").count()).toBe(10);
    // Node: the same spec compiled with the same evaluation output, the page's parameters.
    const { model } = await compileAndLoad(text, "specs/logreg.yaml", { outputs: ["p_y_given_x"] });
    const saved = paramsOf(new Uint8Array(await pageCall<number[]>(page, "checkpoint")));
    for (const [name, v] of saved) model.params[name]!.set(v);
    const n = model.desc.evalBatchSize;
    const x = new Float32Array(n * 784);
    x.set(drawn.pixels);
    const out = { p_y_given_x: new Float32Array(n * 10), error: new Float32Array(n), cost: new Float32Array(n) };
    await model.evaluate({ x, y: new Int32Array(n) }, out);
    expect(drawn.probabilities).toEqual([...out.p_y_given_x.subarray(0, 10)]);
    // The confusion matrix over the test split: 1,000 digits, and its error is the error metric's.
    const c = await pageCall<{ matrix: number[][]; error: number }>(page, "confusion");
    expect(c.matrix.flat().reduce((a, b) => a + b, 0)).toBe(1000);
    const splits = await loadData(model.desc);
    const { evaluate } = await import("../runtime/api.ts");
    expect(c.error).toBeCloseTo((await evaluate(model, splits.test, "test")).error!, 10);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("a new user's path, by the page's own controls: edit the MLP (300 ReLU units), Train, Pause, see curves and filters, draw a digit with the mouse", async () => {
    const { page, problems } = await openPage();
    const mlp = readFileSync(join(ROOT, "specs/mlp.yaml"), "utf8");
    const edited = mlp.replaceAll("500", "300").replace("activation: tanh", "activation: relu");
    await pageCall(page, "setSpec", edited, "specs/mlp.yaml");
    await page.waitForFunction(() => document.getElementById("status")?.textContent?.startsWith("compiled"), null, { timeout: 30_000 });
    expect(await page.textContent("#diagnostics")).toBe("");
    await page.selectOption("#backend", "cpu");
    await page.click("#train");
    // An epoch of the embedded digits (400 minibatches) brings a validation
    // point; the cost curve gets a point every 250 ms, so on a fast machine
    // the epoch can end before its second one: wait for both.
    await page.waitForFunction(() => {
      const p = (window as unknown as { playground: { state(): PlaygroundState; costs(): number[] } }).playground;
      return p.state().records >= 1 && p.costs().length > 1;
    }, null, { timeout: 180_000 });
    await page.click("#pause");
    await page.waitForFunction(() => (window as unknown as { playground: { state(): PlaygroundState } }).playground.state().state === "paused", null, { timeout: 60_000 });
    expect((await pageCall<{ width: number; caption: string }>(page, "filters")).caption).toBe("W1 (first layer)");
    expect((await pageCall<number[]>(page, "costs")).length).toBeGreaterThan(1);
    expect(await page.locator("#plot-valid canvas").count()).toBe(1);
    expect(await page.textContent("#stats")).toMatch(/examples\/s/);
    await page.locator("#draw").scrollIntoViewIfNeeded();
    const box = (await page.locator("#draw").boundingBox())!;
    await page.mouse.move(box.x + 140, box.y + 50);
    await page.mouse.down();
    for (let t = 0; t <= 1; t += 0.05) await page.mouse.move(box.x + 140, box.y + 50 + 180 * t);
    await page.mouse.up();
    await page.waitForFunction(() => document.querySelectorAll("#probabilities li").length === 10, null, { timeout: 30_000 });
    await page.click("#resume");
    await page.waitForFunction(() => (window as unknown as { playground: { state(): PlaygroundState } }).playground.state().state === "running", null, { timeout: 30_000 });
    await page.click("#stop");
    await page.waitForFunction(() => (window as unknown as { playground: { state(): PlaygroundState } }).playground.state().state === "stopped", null, { timeout: 60_000 });
    if (process.env.DLT_SCREENSHOT) await page.screenshot({ path: process.env.DLT_SCREENSHOT, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it("an RBM's Gibbs samples: the spec's sampler run in the page after training (20 hidden units, so it takes seconds)", async () => {
    const { page, problems } = await openPage();
    const rbm = readFileSync(join(ROOT, "specs/rbm.yaml"), "utf8").replaceAll("500", "20");
    await pageCall(page, "setSpec", rbm, "specs/rbm.yaml");
    await trainInPage(page, { backend: "webgpu", maxSteps: 20, chunk: 20 });
    await page.click("#samples-button");
    await page.waitForFunction(() => (document.getElementById("samples") as HTMLCanvasElement).width > 1, null, { timeout: 120_000 });
    // 10 rows of 20 chains, 28×28 each, 1 pixel apart (the tutorial's samples.png).
    expect(await pageCall<{ width: number; height: number; caption: string }>(page, "samples")).toEqual({ width: 20 * 29 - 1, height: 10 * 29 - 1, caption: "samples: samples (10 rows of 20 chains)" });
    expect(problems).toEqual([]);
    await page.close();
  });

  it("a browser without WebGPU: the page says so and trains on the CPU path", async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    // As a browser without WebGPU: no navigator.gpu on the page.
    await page.addInitScript(() => delete (Navigator.prototype as { gpu?: unknown }).gpu);
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => document.getElementById("status")?.textContent?.startsWith("compiled"), null, { timeout: 60_000 });
    expect(await page.textContent("#device")).toContain("This browser has no WebGPU: training runs on the CPU path");
    expect(await page.inputValue("#backend")).toBe("cpu");
    await pageCall(page, "setSpec", readFileSync(join(ROOT, "specs/logreg.yaml"), "utf8"), "specs/logreg.yaml");
    await page.click("#train");
    await page.waitForFunction(() => document.getElementById("device")?.textContent?.includes("trains on CPU"), null, { timeout: 60_000 });
    await page.click("#stop");
    expect(problems).toEqual([]);
    await page.close();
  });

  it("the first load transfers under 6 MB compressed (gzip), the digits included", () => {
    const sizes = new Map<string, number>();
    const walk = (d: string): void => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else sizes.set(p.slice(SITE.length + 1), gzipSync(readFileSync(p)).length);
      }
    };
    walk(SITE);
    const total = [...sizes.values()].reduce((a, b) => a + b, 0);
    expect(total, JSON.stringify(Object.fromEntries(sizes))).toBeLessThan(6_000_000);
    expect([...sizes.keys()].some((k) => k.includes("mnist-digits.bin"))).toBe(true);
  });
});

describe("npm run playground", () => {
  it("serves the page (Vite's dev server) and it compiles the MLP", async () => {
    const { spawn } = await import("node:child_process");
    const dev = spawn("npm", ["run", "playground", "--", "--port", "0", "--host", "127.0.0.1"], { cwd: ROOT, detached: true });
    try {
      let log = "";
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL from the dev server:\n${log}`)), 120_000);
        const read = (d: Buffer) => {
          log += d.toString();
          const m = /Local:\s+(http:\/\/\S+)/.exec(log.replace(/\x1b\[[0-9;]*m/g, ""));
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        };
        dev.stdout!.on("data", read);
        dev.stderr!.on("data", read);
      });
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(e.message));
      await page.goto(url);
      await page.waitForFunction(() => document.getElementById("status")?.textContent?.startsWith("compiled mlp"), null, { timeout: 120_000 });
      expect(problems).toEqual([]);
      await page.close();
    } finally {
      process.kill(-dev.pid!, "SIGTERM");
    }
  });
});
