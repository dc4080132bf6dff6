// The playground page: a spec editor with the CLI's diagnostics inline, the
// generated code and IR, and live training in a worker (worker.ts) with
// curves and first-layer filters. `window.playground` exposes the same
// actions to the browser tests (test/playground.test.ts).
import "./style.css";
import "uplot/dist/uPlot.min.css";
import { basicSetup, EditorView } from "codemirror";
import { yaml } from "@codemirror/lang-yaml";
import { type Diagnostic as CmDiagnostic, lintGutter, setDiagnostics } from "@codemirror/lint";
import uPlot from "uplot";
import type { Diagnostic } from "../../compiler/frontend/diagnostics.ts";
import type { MetricsRecord } from "dlt/runtime";
import type { Backend, FromWorker, ToWorker } from "./protocol.ts";

// The repository's specs, with their comments, as the CLI reads them.
const SPECS = import.meta.glob<string>("../../specs/*.yaml", { query: "?raw", import: "default", eager: true });
const specFiles = Object.keys(SPECS)
  .map((k) => ({ key: k, file: k.replace(/^(\.\.\/)+/, "") }))
  .sort((a, b) => a.file.localeCompare(b.file));

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
// Messages wait until the worker says it listens (see worker.ts's last line).
let workerReady = false;
const pending: [ToWorker, Transferable[]][] = [];
const send = (m: ToWorker, transfer: Transferable[] = []) => (workerReady ? worker.postMessage(m, transfer) : pending.push([m, transfer]));
worker.onerror = (e) => {
  $("status").textContent = `the worker failed: ${e.message}`;
  console.error(`worker: ${e.message} (${e.filename}:${e.lineno})`);
};

// --- editor and diagnostics -------------------------------------------------
let file = "specs/mlp.yaml";
let lastDiagnostics: readonly Diagnostic[] = [];
let files: Record<string, string> = {};
let lowered = "";
const editor = new EditorView({
  doc: SPECS[specFiles.find((s) => s.file === file)!.key]!,
  extensions: [basicSetup, yaml(), lintGutter(), EditorView.updateListener.of((u) => u.docChanged && scheduleCompile())],
  parent: $("editor"),
});
let timer: ReturnType<typeof setTimeout> | undefined;
function scheduleCompile(): void {
  clearTimeout(timer);
  timer = setTimeout(() => send({ type: "compile", text: editor.state.doc.toString(), file }), 250);
}

function showDiagnostics(ds: readonly Diagnostic[]): void {
  lastDiagnostics = ds;
  const doc = editor.state.doc;
  const cm: CmDiagnostic[] = ds.map((d) => {
    const line = doc.line(Math.min(Math.max(1, d.line), doc.lines));
    const from = Math.min(line.from + d.col - 1, line.to);
    return { from, to: Math.min(from + (d.span ?? 1), line.to), severity: d.severity, message: `${d.code}: ${d.message}${d.help ? `\nhelp: ${d.help}` : ""}` };
  });
  editor.dispatch(setDiagnostics(editor.state, cm));
  const list = $("diagnostics");
  list.replaceChildren(
    ...ds.map((d) => {
      const li = document.createElement("li");
      li.className = d.severity;
      li.dataset.code = d.code;
      li.dataset.line = String(d.line);
      li.textContent = `${d.file}:${d.line}:${d.col} ${d.severity}[${d.code}]: ${d.message}${d.help ? `\n  = help: ${d.help}` : ""}`;
      return li;
    }),
  );
}

const specSelect = $<HTMLSelectElement>("spec");
for (const s of specFiles) specSelect.add(new Option(s.file, s.key, false, s.file === file));
specSelect.onchange = () => {
  const s = specFiles.find((x) => x.key === specSelect.value)!;
  file = s.file;
  editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: SPECS[s.key]! } });
};

// --- generated code ---------------------------------------------------------
const codeFile = $<HTMLSelectElement>("code-file");
codeFile.onchange = () => showCode();
function showCode(): void {
  const names = [...Object.keys(files), "lowered program"];
  const keep = codeFile.value;
  codeFile.replaceChildren(...names.map((n) => new Option(n, n)));
  codeFile.value = names.includes(keep) ? keep : "model.ts";
  const text = codeFile.value === "lowered program" ? lowered : (files[codeFile.value] ?? "");
  // `// specs/x.yaml:20 ...` comments (and the IR's locations) link back to the editor's line.
  const pre = $("code");
  pre.replaceChildren();
  const re = new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:(\\d+)`, "g");
  let at = 0;
  for (const m of text.matchAll(re)) {
    pre.append(text.slice(at, m.index));
    const a = document.createElement("span");
    a.className = "spec-line";
    a.textContent = m[0];
    const line = Number(m[1]);
    a.onclick = () => {
      const l = editor.state.doc.line(Math.min(line, editor.state.doc.lines));
      editor.dispatch({ selection: { anchor: l.from, head: l.to }, scrollIntoView: true });
      editor.focus();
    };
    pre.append(a);
    at = m.index! + m[0].length;
  }
  pre.append(text.slice(at));
}

// --- plots and filters --------------------------------------------------------
const costData: [number[], number[]] = [[], []];
const validData: [number[], number[]] = [[], []];
const plotOpts = (title: string, label: string): uPlot.Options => ({
  title,
  width: 520,
  height: 200,
  scales: { x: { time: false } },
  series: [{ label: "step" }, { label, stroke: "#2b6cb0", width: 1.5 }],
});
const costPlot = new uPlot(plotOpts("training cost", "cost"), costData, $("plot-cost"));
const validPlot = new uPlot(plotOpts("validation", "error %"), validData, $("plot-valid"));

function drawFilters(name: string, width: number, height: number, pixels: Uint8Array): void {
  // A sampler's rows go to their own figure; everything else is the filters.
  const samples = name.startsWith("samples");
  if (samples) $("samples-figure").hidden = false;
  const canvas = $<HTMLCanvasElement>(samples ? "samples" : "filters");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d")!;
  const img = ctx.createImageData(width, height);
  for (let i = 0; i < pixels.length; i++) {
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = pixels[i]!;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  $(samples ? "samples-caption" : "filters-caption").textContent = name;
  if (samples) $("status").textContent = `${state} at step ${steps} — samples drawn`;
}

// --- draw a digit, confusion matrix ------------------------------------------
const draw = $<HTMLCanvasElement>("draw");
const dctx = draw.getContext("2d", { willReadFrequently: true })!;
function clearDrawing(): void {
  dctx.fillStyle = "#000";
  dctx.fillRect(0, 0, draw.width, draw.height);
  $("probabilities").replaceChildren();
}
clearDrawing();
let drawing = false;
draw.onpointerdown = (e) => {
  drawing = true;
  stroke(e);
};
draw.onpointermove = (e) => drawing && stroke(e);
draw.onpointerup = draw.onpointerleave = () => {
  if (!drawing) return;
  drawing = false;
  void classifyDrawing();
};
function stroke(e: PointerEvent): void {
  dctx.fillStyle = "#fff";
  dctx.beginPath();
  dctx.arc(e.offsetX, e.offsetY, 12, 0, 2 * Math.PI);
  dctx.fill();
}
$("clear").onclick = clearDrawing;

/** The drawing as MNIST's 28×28 values in [0, 1] (10×10 pixel cells averaged). */
function drawnPixels(): Float32Array {
  const src = dctx.getImageData(0, 0, 280, 280).data;
  const out = new Float32Array(784);
  for (let r = 0; r < 28; r++)
    for (let c = 0; c < 28; c++) {
      let s = 0;
      for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) s += src[4 * ((r * 10 + y) * 280 + c * 10 + x)]!;
      out[r * 28 + c] = s / (100 * 255);
    }
  return out;
}

let probabilitiesWaiter: ((p: readonly number[]) => void) | undefined;
function classify(pixels: Float32Array): Promise<readonly number[]> {
  return new Promise((resolve) => {
    probabilitiesWaiter = resolve;
    send({ type: "classify", pixels });
  });
}
async function classifyDrawing(): Promise<void> {
  if (state === "idle") {
    $("status").textContent = "train a model first, then draw";
    return;
  }
  showProbabilities(await classify(drawnPixels()));
}
function showProbabilities(p: readonly number[]): void {
  const top = p.indexOf(Math.max(...p));
  $("probabilities").replaceChildren(
    ...p.map((v, d) => {
      const li = document.createElement("li");
      li.className = d === top ? "top" : "";
      const bar = document.createElement("span");
      bar.style.width = `${Math.round(v * 120)}px`;
      li.append(`${(100 * v).toFixed(1)} %`, bar);
      return li;
    }),
  );
}

let confusionWaiter: ((c: { matrix: readonly (readonly number[])[]; error: number }) => void) | undefined;
function confusion(): Promise<{ matrix: readonly (readonly number[])[]; error: number }> {
  return new Promise((resolve) => {
    confusionWaiter = resolve;
    send({ type: "confusion" });
  });
}
$("confusion-button").onclick = async () => {
  const c = await confusion();
  const table = $("confusion");
  const head = document.createElement("tr");
  head.append(...["true \\ predicted", ..."0123456789"].map((t) => Object.assign(document.createElement("th"), { textContent: t })));
  table.replaceChildren(
    head,
    ...c.matrix.map((row, t) => {
      const tr = document.createElement("tr");
      tr.append(Object.assign(document.createElement("th"), { textContent: String(t) }), ...row.map((v) => Object.assign(document.createElement("td"), { textContent: String(v) })));
      return tr;
    }),
  );
  $("confusion-error").textContent = `test error ${(100 * c.error).toFixed(2)} %`;
};

$("samples-button").onclick = () => {
  $("status").textContent = "sampling (the spec's Gibbs steps, on the CPU)…";
  send({ type: "samples" });
};

// --- training ---------------------------------------------------------------
type RunState = "idle" | "running" | "paused" | "finished" | "stopped";
let state: RunState = "idle";
let steps = 0;
const records: MetricsRecord[] = [];
let checkpointWaiter: ((b: Uint8Array | null) => void) | undefined;
const gpuAvailable = "gpu" in navigator;
const backendSelect = $<HTMLSelectElement>("backend");
if (!gpuAvailable) {
  backendSelect.value = "cpu";
  $("device").innerHTML = '<span class="note">This browser has no WebGPU: training runs on the CPU path (WebAssembly SIMD).</span>';
}

function setState(s: RunState, summary?: string): void {
  state = s;
  $<HTMLButtonElement>("train").disabled = s === "running";
  $<HTMLButtonElement>("pause").disabled = s !== "running";
  $<HTMLButtonElement>("resume").disabled = s !== "paused";
  $<HTMLButtonElement>("stop").disabled = s !== "running" && s !== "paused";
  $<HTMLButtonElement>("download").disabled = s === "idle";
  $<HTMLButtonElement>("confusion-button").disabled = s === "idle";
  $<HTMLButtonElement>("samples-button").disabled = s === "idle" || s === "running";
  $("status").textContent = `${s}${steps ? ` at step ${steps}` : ""}${summary ? ` — ${summary}` : ""}`;
}

function startTraining(opts: { backend?: Backend; maxSteps?: number; chunk?: number; checkpoint?: Uint8Array } = {}): void {
  costData[0].length = costData[1].length = validData[0].length = validData[1].length = records.length = 0;
  costPlot.setData(costData);
  validPlot.setData(validData);
  steps = 0;
  setState("running");
  send({
    type: "train",
    text: editor.state.doc.toString(),
    file,
    backend: opts.backend ?? (backendSelect.value as Backend),
    chunk: opts.chunk ?? 100,
    // Served beside index.html (public/), wherever the site is hosted.
    digitsUrl: new URL("mnist-digits.bin", document.baseURI).href,
    ...(opts.maxSteps !== undefined ? { maxSteps: opts.maxSteps } : {}),
    ...(opts.checkpoint ? { checkpoint: opts.checkpoint } : {}),
  });
}

$("train").onclick = () => startTraining();
$("pause").onclick = () => send({ type: "pause" });
$("resume").onclick = () => send({ type: "resume" });
$("stop").onclick = () => send({ type: "stop" });
$("download").onclick = async () => {
  const bytes = await checkpoint();
  if (!bytes) return;
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }));
  a.download = `${file.replace(/^.*\//, "").replace(/\.ya?ml$/, "")}-checkpoint.safetensors`;
  a.click();
  URL.revokeObjectURL(a.href);
};
$<HTMLInputElement>("upload").onchange = async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (f) startTraining({ checkpoint: new Uint8Array(await f.arrayBuffer()) });
};

function checkpoint(): Promise<Uint8Array | null> {
  return new Promise((resolve) => {
    checkpointWaiter = resolve;
    send({ type: "checkpoint" });
  });
}

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.type) {
    case "ready":
      workerReady = true;
      for (const [x, t] of pending.splice(0)) worker.postMessage(x, t);
      return;
    case "compiled":
      showDiagnostics(m.diagnostics);
      if (m.ok) {
        files = { ...m.files };
        lowered = m.lowered;
        showCode();
      }
      if (state === "idle") $("status").textContent = m.ok ? `compiled ${m.model} in ${m.ms.toFixed(0)} ms` : `${m.diagnostics.filter((d) => d.severity === "error").length} error(s)`;
      return;
    case "started":
      $("device").innerHTML = "";
      $("device").append(`trains on ${m.device}`);
      if (m.note) {
        const n = document.createElement("div");
        n.className = "note";
        n.textContent = m.note;
        $("device").append(n);
      }
      return;
    case "progress":
      steps = m.progress.step;
      costData[0].push(m.progress.step);
      costData[1].push(m.progress.cost);
      costPlot.setData(costData);
      $("stats").textContent = `${m.progress.phase} epoch ${m.progress.epoch} · step ${m.progress.step} · cost ${m.progress.cost.toFixed(4)} · ${Math.round(m.progress.examplesPerSecond)} examples/s`;
      $("status").textContent = `running at step ${steps}`;
      return;
    case "record":
      records.push(m.record);
      if (m.record.valid && "error" in m.record.valid) {
        validData[0].push(m.record.globalStep);
        validData[1].push(100 * m.record.valid.error!);
        validPlot.setData(validData);
      }
      return;
    case "image":
      drawFilters(m.name, m.width, m.height, m.pixels);
      return;
    case "state":
      steps = m.steps;
      setState(m.state, m.summary);
      return;
    case "probabilities":
      probabilitiesWaiter?.(m.probabilities);
      probabilitiesWaiter = undefined;
      return;
    case "confusion":
      confusionWaiter?.(m);
      confusionWaiter = undefined;
      return;
    case "checkpoint":
      checkpointWaiter?.(m.bytes);
      checkpointWaiter = undefined;
      return;
    case "error":
      if (state === "running") setState("stopped");
      $("status").textContent = `error: ${m.message}`;
      return;
  }
};

send({ type: "compile", text: editor.state.doc.toString(), file });
setState("idle");

/** What the browser tests drive and read (test/playground.test.ts). */
const api = {
  setSpec(text: string, name = "specs/edited.yaml"): void {
    file = name;
    editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: text } });
  },
  diagnostics: () => lastDiagnostics,
  files: () => files,
  state: () => ({ state, steps, records: records.length }),
  costs: () => [...costData[1]],
  records: () => records,
  train: startTraining,
  pause: () => send({ type: "pause" }),
  resume: () => send({ type: "resume" }),
  checkpoint: async () => Array.from((await checkpoint()) ?? []),
  device: () => $("device").textContent ?? "",
  filters: () => ({ width: $<HTMLCanvasElement>("filters").width, caption: $("filters-caption").textContent }),
  samples: () => ({ width: $<HTMLCanvasElement>("samples").width, height: $<HTMLCanvasElement>("samples").height, caption: $("samples-caption").textContent }),
  classify: async (pixels: number[]) => [...(await classify(new Float32Array(pixels)))],
  confusion,
  /** Draws a stroke on the canvas (page coordinates of the canvas, 0–280) and classifies the drawing. */
  drawAndClassify: async (points: [number, number][]) => {
    clearDrawing();
    dctx.fillStyle = "#fff";
    for (const [x, y] of points) {
      dctx.beginPath();
      dctx.arc(x, y, 12, 0, 2 * Math.PI);
      dctx.fill();
    }
    const pixels = drawnPixels();
    const p = await classify(pixels);
    showProbabilities(p);
    return { pixels: [...pixels], probabilities: [...p] };
  },
};
(window as unknown as { playground: typeof api }).playground = api;
