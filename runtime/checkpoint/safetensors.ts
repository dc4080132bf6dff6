// A small safetensors encoder/decoder (https://github.com/huggingface/safetensors
// format): an 8-byte little-endian header length N, N bytes of JSON
//   { "__metadata__": { string: string }, NAME: { dtype, shape, data_offsets: [begin, end] } }
// padded with spaces to a multiple of 8, then the raw little-endian tensor
// bytes, offsets relative to the start of that data. Only F32 and I32 are
// needed by the runtime. Written here rather than pulled in as a dependency
// so the browser trainer can use it and every check is ours.

/** A saved file that cannot be used: unreadable, not safetensors, not a dlt
 * checkpoint, or not this model's (a tensor missing or of another shape);
 * the message names the file and the tensor. */
export class CheckpointError extends Error {
  override readonly name = "CheckpointError";
}

/** The element types dlt writes into safetensors files. */
export type StDType = "F32" | "I32";

/** One tensor of a safetensors file: dtype, shape and row-major data. */
export interface StTensor {
  readonly dtype: StDType;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

/** A decoded safetensors file: its tensors by name and its string metadata. */
export interface StFile {
  readonly tensors: ReadonlyMap<string, StTensor>;
  readonly metadata: Readonly<Record<string, string>>;
}

const METADATA_KEY = "__metadata__";
/** Refuse absurd header lengths before allocating (a torn or foreign file). */
const MAX_HEADER = 100 * 1024 * 1024;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Serialises tensors (in the given order) and string metadata. */
export function encodeSafetensors(tensors: ReadonlyMap<string, StTensor>, metadata: Readonly<Record<string, string>>): Uint8Array {
  const header: Record<string, unknown> = { [METADATA_KEY]: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === METADATA_KEY) throw new CheckpointError(`tensor name "${METADATA_KEY}" is reserved`);
    const want = elementCount(t.shape);
    if (t.data.length !== want) {
      throw new CheckpointError(`tensor "${name}": shape [${t.shape.join(", ")}] needs ${want} values, buffer has ${t.data.length}`);
    }
    const expectF32 = t.dtype === "F32";
    if (expectF32 !== t.data instanceof Float32Array) throw new CheckpointError(`tensor "${name}": dtype ${t.dtype} does not match its buffer`);
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + 4 * want] };
    offset += 4 * want;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let pos = 8 + padded;
  for (const t of tensors.values()) {
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    } else {
      for (let i = 0; i < t.data.length; i++) {
        if (t.dtype === "F32") view.setFloat32(pos + 4 * i, t.data[i], true);
        else view.setInt32(pos + 4 * i, t.data[i], true);
      }
    }
    pos += t.data.byteLength;
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isNatural(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** Parses and validates a safetensors file; `file` names it in errors.
 * Checks: header length, JSON, entry fields, dtypes, that each tensor's
 * byte range matches its shape, lies inside the data and overlaps no other,
 * and that the ranges cover the data exactly. */
export function decodeSafetensors(bytes: Uint8Array, file: string): StFile {
  const fail = (msg: string): never => {
    throw new CheckpointError(`${file}: ${msg}`);
  };
  if (bytes.length < 8) fail(`expected a safetensors file, found only ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(Math.min(MAX_HEADER, bytes.length - 8))) {
    fail(`header length ${n64} exceeds the file (${bytes.length} bytes): truncated or not a safetensors file`);
  }
  const n = Number(n64);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(`header is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isRecord(header)) return fail("header is not a JSON object");
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, StTensor>();
  const ranges: Array<[number, number, string]> = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (!isRecord(entry)) fail(`${METADATA_KEY} must be an object of strings`);
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`${METADATA_KEY}.${k} must be a string, found ${typeof v}`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (!isRecord(entry)) return fail(`tensor "${name}": entry is not an object`);
    const { dtype, shape, data_offsets: offs } = entry;
    if (dtype !== "F32" && dtype !== "I32") fail(`tensor "${name}": expected dtype F32 or I32, found ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isNatural)) fail(`tensor "${name}": shape must be an array of non-negative integers`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isNatural)) {
      fail(`tensor "${name}": data_offsets must be [begin, end] with non-negative integers`);
    }
    const [begin, end] = offs as [number, number];
    const dims = shape as number[];
    const want = 4 * elementCount(dims);
    if (end < begin || end - begin !== want) {
      fail(`tensor "${name}": shape [${dims.join(", ")}] needs ${want} bytes, data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    if (end > dataLen) fail(`tensor "${name}": data_offsets end ${end} is past the data (${dataLen} bytes): truncated file`);
    ranges.push([begin, end, name]);
    tensors.set(name, { dtype: dtype as StDType, shape: dims, data: readData(bytes, dataStart + begin, want / 4, dtype as StDType) });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  let covered = 0;
  for (const [begin, end, name] of ranges) {
    if (begin < covered) fail(`tensor "${name}": data_offsets overlap another tensor`);
    if (begin > covered) fail(`tensor "${name}": gap in the data before offset ${begin}`);
    covered = end;
  }
  if (covered !== dataLen) fail(`${dataLen - covered} bytes of data after the last tensor (expected none)`);
  return { tensors, metadata };
}

function readData(bytes: Uint8Array, at: number, count: number, dtype: StDType): Float32Array | Int32Array {
  // Copy, so the tensors do not pin the whole file and are 4-byte aligned.
  // (Not bytes.slice: on a Node Buffer that is a view, not a copy.)
  const copy = new Uint8Array(bytes.subarray(at, at + 4 * count));
  if (LITTLE_ENDIAN) return dtype === "F32" ? new Float32Array(copy.buffer) : new Int32Array(copy.buffer);
  const view = new DataView(copy.buffer);
  const out = dtype === "F32" ? new Float32Array(count) : new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = dtype === "F32" ? view.getFloat32(4 * i, true) : view.getInt32(4 * i, true);
  return out;
}
