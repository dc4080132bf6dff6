// ONNX export: the IR of a spec's inference graph rendered as an ONNX model
// (opset 18, IR version 8), node by node through the op table (./ops.ts),
// serialised with protobufjs and the onnx.proto definitions of the
// `onnx-proto` package — no hand-written bytes. Inputs keep the spec's
// names, outputs the graph names asked for, parameters become initializers
// (raw little-endian data). Shapes are static, at the export's batch size.
import onnxProto from "onnx-proto";
import type { Graph, Node, Prim, TensorType } from "../../ir/types.ts";
import { IRError } from "../../ir/types.ts";
import { ONNX_DTYPE, ONNX_RULES, type OnnxCtx, type OnnxRule } from "./ops.ts";

const { onnx } = onnxProto;

export const OPSET = 18;
/** onnx-proto's IR_VERSION (8), which opset 18 requires at least. */
const IR_VERSION = 8;

export interface OnnxExport {
  /** The model's name (the spec's `model`). */
  readonly name: string;
  readonly graph: Graph;
  /** Output name → node id (graph names of the spec). */
  readonly outputs: ReadonlyMap<string, number>;
  /** Parameter and state values, by name (the checkpoint's). */
  readonly values: ReadonlyMap<string, Float32Array>;
  /** Free text for the model's doc string (spec file, checkpoint). */
  readonly doc: string;
  /** The graph was built at BATCH_SENTINEL: export a symbolic batch. */
  readonly dynamicBatch?: boolean;
}

function tensorProto(name: string, type: TensorType, data: ArrayLike<number>): onnxProto.onnx.ITensorProto {
  const n = type.shape.reduce((a, d) => a * d, 1);
  if (data.length !== n) throw new Error(`initializer ${name}: ${data.length} values for shape [${type.shape.join(", ")}]`);
  let raw: Uint8Array;
  if (type.dtype === "f32") raw = new Uint8Array(Float32Array.from(data).buffer);
  else if (type.dtype === "f64") raw = new Uint8Array(Float64Array.from(data).buffer);
  else if (type.dtype === "i32") raw = new Uint8Array(Int32Array.from(data).buffer);
  else raw = Uint8Array.from(data, (v) => (v ? 1 : 0));
  return { name, dims: [...type.shape], dataType: ONNX_DTYPE[type.dtype], rawData: raw };
}

function int64Tensor(name: string, values: readonly number[]): onnxProto.onnx.ITensorProto {
  const raw = new Uint8Array(new BigInt64Array(values.map((v) => BigInt(v))).buffer);
  return { name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, rawData: raw };
}

/** A dimension of an exported shape: with a dynamic batch, the graph is
 * built at the sentinel batch size BATCH_SENTINEL and every dimension that
 * is a multiple of it scales with the batch (`batch` when it is the batch). */
function dimOf(d: number, sentinel: number | undefined): onnxProto.onnx.TensorShapeProto.IDimension {
  if (sentinel === undefined || d === 0 || d % sentinel !== 0) return { dimValue: d };
  return d === sentinel ? { dimParam: "batch" } : {};
}

function valueInfo(name: string, t: TensorType, sentinel?: number): onnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: ONNX_DTYPE[t.dtype], shape: { dim: t.shape.map((d) => dimOf(d, sentinel)) } } } };
}

/** The batch size a dynamic-batch export builds its graph at: a prime far
 * from any static dimension, so a multiple of it can only be the batch. */
export const BATCH_SENTINEL = 7919;

function attribute(name: string, v: number | readonly number[] | string): onnxProto.onnx.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof v === "string") return { name, type: A.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === "number") return { name, type: A.INT, i: v };
  return { name, type: A.INTS, ints: [...v] };
}

/** Only names ONNX accepts everywhere: the spec's names are identifiers
 * already (the schema's pattern), so this is a guard, not an escape. */
function checkName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_.:]*$/.test(name)) throw new Error(`not an exportable name: ${JSON.stringify(name)}`);
  return name;
}

/** The ONNX model's bytes. Throws IRError E070 at the spec line of the
 * first op without an ONNX form. */
export function exportOnnx(e: OnnxExport): Uint8Array {
  const sentinel = e.dynamicBatch ? BATCH_SENTINEL : undefined;
  const r = new Renderer(e.values, sentinel);
  const names = new Map<number, string>();
  for (const [out, id] of e.outputs) names.set(id, checkName(out));
  const needed = reachable(e.graph, [...e.outputs.values()]);
  // The run-time batch size, [1] int64, read once from an input that has it.
  const prelude: onnxProto.onnx.INodeProto[] = [];
  if (sentinel !== undefined) {
    const first = e.graph.nodes.find((n) => needed[n.id] && n.op === "input" && n.shape[0] === sentinel);
    if (first) {
      r.batch = r.newName("batch");
      prelude.push({ opType: "Shape", input: [checkName((first.attrs as { name: string }).name)], output: [r.batch], attribute: [attribute("start", 0), attribute("end", 1)] });
    }
  }
  const nodes = [...prelude, ...r.render(e.graph, names, needed)];
  const model: onnxProto.onnx.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: "dlt",
    producerVersion: "0.1",
    docString: e.doc,
    graph: {
      name: checkName(e.name),
      node: nodes,
      initializer: r.initializers,
      input: r.inputs,
      output: [...e.outputs].map(([name, id]) => valueInfo(name, e.graph.nodes[id]!, sentinel)),
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Renders graphs (the model's, and scan bodies as Loop bodies) into ONNX
 * nodes. Value names are unique across the model: a Loop body reads the
 * outer graph's values (its constants and sequences) by name. */
class Renderer {
  readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private fresh = 0;
  /** The run-time batch size ([1] int64) of a dynamic-batch export. */
  batch: string | undefined;

  constructor(
    private readonly values: ReadonlyMap<string, Float32Array>,
    private readonly sentinel?: number,
  ) {}

  newName(base: string): string {
    return `${base}_${this.fresh++}`;
  }

  /** The nodes computing `g`'s `needed` nodes; `names` holds (and gets) the
   * value name of each node (scan results: "a|b|c", one per output). */
  render(g: Graph, names: Map<number, string>, needed: readonly boolean[], args?: readonly string[]): onnxProto.onnx.INodeProto[] {
    const nodes: onnxProto.onnx.INodeProto[] = [];
    const alias = (id: number, name: string) => {
      if (names.has(id)) nodes.push({ opType: "Identity", input: [name], output: [names.get(id)!] });
      else names.set(id, name);
    };
    for (const n of g.nodes) {
      if (!needed[n.id]) continue;
      if (n.op === "scan_arg" && args) {
        alias(n.id, args[(n.attrs as { index: number }).index]!);
        continue;
      }
      if (n.op === "input" || n.op === "param" || n.op === "state") {
        const leafName = checkName((n.attrs as { name: string }).name);
        if (n.op === "input") this.inputs.push(valueInfo(leafName, n, this.sentinel));
        else {
          const v = this.values.get(leafName);
          if (!v) throw new Error(`no value for ${n.op} "${leafName}" in the checkpoint`);
          this.initializers.push(tensorProto(leafName, n, v));
        }
        alias(n.id, leafName);
        continue;
      }
      if (n.op === "scan") {
        this.scan(g, n as Node<"scan">, names, nodes);
        continue;
      }
      if (n.op === "tuple_get") {
        const parts = names.get(n.inputs[0]!)!.split("|");
        alias(n.id, parts[(n.attrs as { index: number }).index]!);
        continue;
      }
      const rule = ONNX_RULES[n.op] as OnnxRule<Prim>;
      if (typeof rule === "string") throw new IRError(`${n.op} has no ONNX form: ${rule}`, n.loc, "E070");
      const out = names.get(n.id) ?? this.newName(n.loc?.name ?? n.op);
      names.set(n.id, out);
      (rule as (n: Node, c: OnnxCtx) => void)(n, this.ctx(g, n, names, nodes, out));
    }
    return nodes;
  }

  private ctx(g: Graph, n: Node, names: ReadonlyMap<number, string>, nodes: onnxProto.onnx.INodeProto[], out: string): OnnxCtx {
    return {
      ins: n.inputs.map((i) => names.get(i)!),
      inTypes: n.inputs.map((i) => g.nodes[i]!),
      out,
      node: (op, ins, attrs = {}, o) => {
        const output = o ?? this.newName(op.toLowerCase());
        nodes.push({ opType: op, input: [...ins], output: [output], attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
        return output;
      },
      ints: (values) => {
        const name = this.newName("const");
        this.initializers.push(int64Tensor(name, values));
        return name;
      },
      filled: (value, type) => {
        const name = this.newName("const");
        if (!this.scales(type.shape)) {
          this.initializers.push(tensorProto(name, type, new Array<number>(type.shape.reduce((a, d) => a * d, 1)).fill(value)));
          return name;
        }
        // A batch-shaped constant: a scalar expanded at run time.
        this.initializers.push(tensorProto(name, { shape: [], dtype: type.dtype }, [value]));
        const out = this.newName("filled");
        nodes.push({ opType: "Expand", input: [name, this.dims(type.shape, nodes)], output: [out] });
        return out;
      },
      reshapeTo: (dims) => {
        if (!this.scales(dims)) return this.intsInit(dims);
        // One dimension scales with the batch: Reshape infers it (−1).
        if (dims.filter((d) => this.scales([d])).length > 1) throw new Error(`reshape to [${dims.join(", ")}]: more than one dimension scales with the batch; export with --batch N`);
        return this.intsInit(dims.map((d) => (this.scales([d]) ? -1 : d)));
      },
      expandTo: (dims) => this.dims(dims, nodes),
      axisEnd: (end) => (this.scales([end]) ? 2 ** 62 : end),
      fresh: (base) => this.newName(base),
    };
  }

  /** A forward scan as an ONNX Loop: the carries are loop-carried values,
   * each step reads its sequence slices with Gather at the iteration
   * number, and its step outputs are the Loop's scan outputs. A counted
   * scan runs min(count, length) iterations; its stacked outputs are then
   * padded with zeros to `length`, as the IR's scan leaves the steps not
   * run. */
  private scan(g: Graph, n: Node<"scan">, names: Map<number, string>, nodes: onnxProto.onnx.INodeProto[]): void {
    const a = n.attrs;
    if (a.reverse) throw new IRError("scan has no ONNX form: a reverse scan (a gradient's) is never part of an inference graph", n.loc, "E070");
    const ins = n.inputs.map((i) => names.get(i)!);
    const init = ins.slice(0, a.nCarry);
    const seqs = ins.slice(a.nCarry, a.nCarry + a.nSeq);
    const consts = ins.slice(a.nCarry + a.nSeq, a.nCarry + a.nSeq + a.nConst);
    const body = a.body;
    const iter = this.newName("iter");
    const condIn = this.newName("cond_in");
    const carried = init.map(() => this.newName("carry"));
    const bodyNodes: onnxProto.onnx.INodeProto[] = [];
    // The step's slices of the sequences: Gather along axis 0 at iter.
    const slices = seqs.map((s) => {
      const out = this.newName("step");
      bodyNodes.push({ opType: "Gather", input: [s, iter], output: [out], attribute: [attribute("axis", 0)] });
      return out;
    });
    const bodyNames = new Map<number, string>();
    const outs = [...body.outputs.keys()].sort((x, y) => Number(x) - Number(y)).map((k) => body.outputs.get(k)!);
    bodyNodes.push(...this.render(body, bodyNames, reachable(body, outs), [...carried, ...slices, ...consts]));
    const condOut = this.newName("cond_out");
    bodyNodes.push({ opType: "Identity", input: [condIn], output: [condOut] });
    // Body outputs must be distinct names: one Identity per output.
    const bodyOuts = outs.map((id) => {
      const o = this.newName("body_out");
      bodyNodes.push({ opType: "Identity", input: [bodyNames.get(id)!], output: [o] });
      return o;
    });
    const bodyType = (id: number): onnxProto.onnx.IValueInfoProto => {
      const t = body.nodes[id]!;
      return { type: { tensorType: { elemType: ONNX_DTYPE[t.dtype], shape: { dim: t.shape.map((d) => dimOf(d, this.sentinel)) } } } };
    };
    const bodyGraph: onnxProto.onnx.IGraphProto = {
      name: this.newName("scan_body"),
      node: bodyNodes,
      input: [
        { name: iter, type: { tensorType: { elemType: onnx.TensorProto.DataType.INT64, shape: { dim: [] } } } },
        { name: condIn, type: { tensorType: { elemType: ONNX_DTYPE.bool, shape: { dim: [] } } } },
        ...carried.map((c, k) => ({ ...bodyType(outs[k]!), name: c })),
      ],
      output: [{ name: condOut, type: { tensorType: { elemType: ONNX_DTYPE.bool, shape: { dim: [] } } } }, ...bodyOuts.map((o, k) => ({ ...bodyType(outs[k]!), name: o }))],
    };
    const lengthName = this.newName("length");
    this.initializers.push({ name: lengthName, dims: [], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(new BigInt64Array([BigInt(a.length)]).buffer) });
    let trips = lengthName;
    if (a.counted) {
      // The count is one i32 (a sentence's length) or a vector of them (a
      // batch's): the scan runs the longest. A scalar int64 for Loop.
      const count64 = this.newName("count64");
      nodes.push({ opType: "Cast", input: [ins[ins.length - 1]!], output: [count64], attribute: [attribute("to", onnx.TensorProto.DataType.INT64)] });
      const count = this.newName("count");
      nodes.push({ opType: "ReduceMax", input: [count64], output: [count], attribute: [attribute("keepdims", 0)] });
      const clamped = this.newName("trips");
      const zero = this.newName("zero");
      this.initializers.push({ name: zero, dims: [], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(8) });
      const upper = this.newName("trips_max");
      nodes.push({ opType: "Min", input: [count, lengthName], output: [upper] });
      nodes.push({ opType: "Max", input: [upper, zero], output: [clamped] });
      trips = clamped;
    }
    const cond = this.newName("cond");
    this.initializers.push({ name: cond, dims: [], dataType: ONNX_DTYPE.bool, rawData: new Uint8Array([1]) });
    const finals = init.map(() => this.newName("final"));
    const stacked = outs.slice(a.nCarry).map(() => this.newName("stacked"));
    nodes.push({ opType: "Loop", input: [trips, cond, ...init], output: [...finals, ...(a.counted ? stacked.map((s) => `${s}_run`) : stacked)], attribute: [{ name: "body", type: onnx.AttributeProto.AttributeType.GRAPH, g: bodyGraph }] });
    if (a.counted) {
      // Zeros for the steps past the count: pad axis 0 by length − trips.
      stacked.forEach((s, k) => {
        const rank = body.nodes[outs[a.nCarry + k]!]!.shape.length + 1;
        const missing = this.newName("missing");
        nodes.push({ opType: "Sub", input: [lengthName, trips], output: [missing] });
        const missing1 = this.newName("missing1");
        nodes.push({ opType: "Reshape", input: [missing, this.intsInit([1])], output: [missing1] });
        const pads = this.newName("pads");
        nodes.push({ opType: "Concat", input: [this.intsInit(new Array<number>(rank).fill(0)), missing1, this.intsInit(new Array<number>(rank - 1).fill(0))], output: [pads], attribute: [attribute("axis", 0)] });
        nodes.push({ opType: "Pad", input: [`${s}_run`, pads], output: [s], attribute: [attribute("mode", "constant")] });
      });
    }
    names.set(n.id, [...finals, ...stacked].join("|"));
  }

  /** Whether a shape has a dimension that scales with the batch. */
  private scales(dims: readonly number[]): boolean {
    return this.sentinel !== undefined && dims.some((d) => d !== 0 && d % this.sentinel! === 0);
  }

  /** A shape as an int64 tensor; with batch-scaled dimensions built at run
   * time from the batch size (a multiple k·batch as Mul). */
  private dims(dims: readonly number[], nodes: onnxProto.onnx.INodeProto[]): string {
    if (!this.scales(dims)) return this.intsInit(dims);
    if (this.batch === undefined) throw new Error("a batch-shaped value but no input has the batch: export with --batch N");
    const parts = dims.map((d) => {
      if (!this.scales([d])) return this.intsInit([d]);
      if (d === this.sentinel) return this.batch!;
      const out = this.newName("batch_times");
      nodes.push({ opType: "Mul", input: [this.batch!, this.intsInit([d / this.sentinel!])], output: [out] });
      return out;
    });
    const out = this.newName("shape");
    nodes.push({ opType: "Concat", input: parts, output: [out], attribute: [attribute("axis", 0)] });
    return out;
  }

  private intsInit(values: readonly number[]): string {
    const name = this.newName("const");
    this.initializers.push(int64Tensor(name, values));
    return name;
  }
}

/** Nodes the outputs depend on. */
function reachable(g: Graph, roots: readonly number[]): boolean[] {
  const on = new Array<boolean>(g.nodes.length).fill(false);
  for (const r of roots) on[r] = true;
  for (let id = g.nodes.length - 1; id >= 0; id--) if (on[id]) for (const i of g.nodes[id]!.inputs) on[i] = true;
  return on;
}
