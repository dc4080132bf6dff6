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

function valueInfo(name: string, t: TensorType): onnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: ONNX_DTYPE[t.dtype], shape: { dim: t.shape.map((d) => ({ dimValue: d })) } } } };
}

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
  const g = e.graph;
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  const inputs: onnxProto.onnx.IValueInfoProto[] = [];
  const names = new Map<number, string>();
  let fresh = 0;
  const newName = (base: string) => `${base}_${fresh++}`;
  for (const [out, id] of e.outputs) names.set(id, checkName(out));
  const needed = reachable(g, [...e.outputs.values()]);

  for (const n of g.nodes) {
    if (!needed[n.id]) continue;
    if (n.op === "input" || n.op === "param" || n.op === "state") {
      const leafName = checkName((n.attrs as { name: string }).name);
      if (n.op === "input") {
        inputs.push(valueInfo(leafName, n));
        if (names.has(n.id)) nodes.push({ opType: "Identity", input: [leafName], output: [names.get(n.id)!] });
        else names.set(n.id, leafName);
        continue;
      }
      const v = e.values.get(leafName);
      if (!v) throw new Error(`no value for ${n.op} "${leafName}" in the checkpoint`);
      initializers.push(tensorProto(leafName, n, v));
      if (names.has(n.id)) nodes.push({ opType: "Identity", input: [leafName], output: [names.get(n.id)!] });
      else names.set(n.id, leafName);
      continue;
    }
    const rule = ONNX_RULES[n.op] as OnnxRule<Prim>;
    if (typeof rule === "string") {
      throw new IRError(`${n.op} has no ONNX form: ${rule}`, n.loc, "E070");
    }
    const out = names.get(n.id) ?? newName(n.loc?.name ?? n.op);
    names.set(n.id, out);
    const ctx: OnnxCtx = {
      ins: n.inputs.map((i) => names.get(i)!),
      inTypes: n.inputs.map((i) => g.nodes[i]!),
      out,
      node(op, ins, attrs = {}, o) {
        const output = o ?? newName(op.toLowerCase());
        nodes.push({ opType: op, input: [...ins], output: [output], attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
        return output;
      },
      ints(values) {
        const name = newName("const");
        initializers.push(int64Tensor(name, values));
        return name;
      },
      filled(value, type) {
        const name = newName("const");
        initializers.push(tensorProto(name, type, new Array<number>(type.shape.reduce((a, d) => a * d, 1)).fill(value)));
        return name;
      },
      fresh: newName,
    };
    (rule as (n: Node, c: OnnxCtx) => void)(n, ctx);
  }

  const model: onnxProto.onnx.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: "dlt",
    producerVersion: "0.1",
    docString: e.doc,
    graph: {
      name: checkName(e.name),
      node: nodes,
      initializer: initializers,
      input: inputs,
      output: [...e.outputs].map(([name, id]) => valueInfo(name, g.nodes[id]!)),
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Nodes the outputs depend on. */
function reachable(g: Graph, roots: readonly number[]): boolean[] {
  const on = new Array<boolean>(g.nodes.length).fill(false);
  for (const r of roots) on[r] = true;
  for (let id = g.nodes.length - 1; id >= 0; id--) if (on[id]) for (const i of g.nodes[id]!.inputs) on[i] = true;
  return on;
}
