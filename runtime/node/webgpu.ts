// A WebGPU device under Node, through the `webgpu` package (Dawn). Tries the
// platform's default backend (Vulkan / Metal / D3D12 on a real GPU) first,
// then falls back to Dawn's OpenGL ES backend in compatibility mode, which
// runs on Mesa's llvmpipe (a CPU rasteriser) on machines without a GPU —
// Dawn's Vulkan backend rejects Mesa's lavapipe, OpenGL through EGL works.
// That fallback needs EGL_PLATFORM=surfaceless (no display server) and the
// Debian packages libegl1 libgles2 libegl-mesa0 libgl1-mesa-dri.
//
// Node-only; `webgpu` is loaded with a dynamic import so that browser bundles
// of the runtime never see it (the executor, runtime/webgpu/executor.ts,
// only needs a GPUDevice, which a browser gets from navigator.gpu).

/** Debian packages the llvmpipe fallback needs. */
// libegl-dev: Dawn dlopens the unversioned libEGL.so, which only the -dev package provides.
export const LLVMPIPE_PACKAGES = ["libegl1", "libgles2", "libegl-mesa0", "libgl1-mesa-dri", "libegl-dev"] as const;

/** Which Dawn backend answered: the platform default or the OpenGL fallback. */
type DawnBackend = "default" | "opengl-compat";

/** A WebGPU device from Dawn and a one-line description of its adapter (for
 * logs). */
export interface AcquiredDevice {
  readonly device: GPUDevice;
  /** One line for logs, naming the backend too, e.g. "llvmpipe (LLVM 15.0.6, 256 bits) — OpenGL 4.5 (Core Profile) Mesa 22.3.6 [OpenGL, compatibility mode]". */
  readonly description: string;
}

/** Which Dawn backend {@link acquireDevice} tries: the platform's default
 * (Vulkan, Metal, D3D12), OpenGL in compatibility mode (Mesa's llvmpipe
 * without a GPU), or both in that order ("auto", the default; env
 * DLT_WEBGPU_BACKEND). */
export interface AcquireOptions {
  /** "auto" (default): default backend, then the OpenGL fallback. Overridable
   * with the environment variable DLT_WEBGPU_BACKEND=auto|default|opengl. */
  readonly backend?: "auto" | "default" | "opengl";
}

/** Raised when no WebGPU adapter can be had; the message says what to install. */
export class NoGpuError extends Error {
  override readonly name = "NoGpuError";
}

// Limits a plan may need beyond WebGPU's defaults: the device is requested
// with the adapter's maxima for these (a device only gets what it asks for).
const RAISED_LIMITS = [
  "maxStorageBuffersPerShaderStage",
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupsPerDimension",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupStorageSize",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
] as const;

type WebGpuModule = { create(options: string[]): GPU; globals: object };
const instances = new Map<string, GPU>();

async function loadDawn(): Promise<WebGpuModule> {
  try {
    // A variable specifier keeps bundlers from following the import.
    const name = "webgpu";
    return (await import(name)) as WebGpuModule;
  } catch (e) {
    throw new NoGpuError(`the WebGPU backend needs the npm package "webgpu" (Dawn for Node): npm install webgpu (${(e as Error).message})`);
  }
}

function describe(adapter: GPUAdapter, backend: DawnBackend): string {
  const i = adapter.info;
  const name = i.device || [i.vendor, i.architecture].filter(Boolean).join(" ") || "unknown adapter";
  const extra = i.description && i.description !== name ? ` — ${i.description}` : "";
  return `${name}${extra} [${backend === "opengl-compat" ? "OpenGL, compatibility mode" : "default backend"}]`;
}

/** A device with the adapter's maxima for the limits plans use. */
export async function acquireDevice(opts: AcquireOptions = {}): Promise<AcquiredDevice> {
  const env = process.env.DLT_WEBGPU_BACKEND;
  const choice = opts.backend ?? (env === "default" || env === "opengl" || env === "auto" ? env : "auto");
  const dawn = await loadDawn();
  // GPUBufferUsage, GPUMapMode, ... for code that uses the globals (the
  // executor does not); existing definitions (e.g. a test's) are kept.
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;

  // One Dawn instance per backend for the process (each create() loads the
  // backends again and repeats their warnings).
  const gpu = (opts: string): GPU => {
    let g = instances.get(opts);
    if (!g) instances.set(opts, (g = dawn.create(opts ? [opts] : [])));
    return g;
  };
  let adapter: GPUAdapter | null = null;
  let backend: DawnBackend = "default";
  const tried: string[] = [];
  if (choice !== "opengl") {
    adapter = await gpu("").requestAdapter({ powerPreference: "high-performance" });
    tried.push("the default backend");
  }
  if (!adapter && choice !== "default") {
    // EGL without a display server; must be set before Dawn opens EGL.
    process.env.EGL_PLATFORM ??= "surfaceless";
    adapter = await gpu("backend=opengl").requestAdapter({ featureLevel: "compatibility" });
    backend = "opengl-compat";
    tried.push(`OpenGL in compatibility mode (EGL_PLATFORM=${process.env.EGL_PLATFORM})`);
  }
  if (!adapter) {
    throw new NoGpuError(
      `no WebGPU adapter (tried ${tried.join(", then ")}). Install a GPU driver (Vulkan, Metal or D3D12), ` +
        `or for the CPU fallback through Mesa's llvmpipe the Debian/Ubuntu packages ${LLVMPIPE_PACKAGES.join(" ")} ` +
        `(apt-get install ${LLVMPIPE_PACKAGES.join(" ")}) and run with EGL_PLATFORM=surfaceless`,
    );
  }
  const requiredLimits: Record<string, number> = {};
  for (const k of RAISED_LIMITS) {
    const v = adapter.limits[k];
    if (typeof v === "number") requiredLimits[k] = v;
  }
  const device = await adapter.requestDevice({ requiredLimits, label: "dlt" });
  return { device, description: describe(adapter, backend) };
}
