// A WebGPU device in a browser (navigator.gpu). Node uses
// runtime/node/webgpu.ts instead, which loads Dawn; this module has no Node
// imports so a page can bundle it with a generated model.

/** The browser has no WebGPU (no `navigator.gpu` or no adapter): the caller
 * falls back to the CPU model. */
export class NoWebGpuError extends Error {
  override readonly name = "NoWebGpuError";
}

/** The first adapter the browser offers (a compatibility-mode one when no
 * core adapter exists), with a device that gets the adapter's limits: the
 * 16×16 matrix-product tiles need more than compatibility mode's defaults. */
export async function browserDevice(): Promise<{ device: GPUDevice; description: string }> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) {
    throw new NoWebGpuError("this browser has no WebGPU (navigator.gpu is undefined): use Chrome or Edge 113+, Safari 26+, or Firefox 141+, served over https or localhost");
  }
  const adapter = (await gpu.requestAdapter()) ?? (await gpu.requestAdapter({ featureLevel: "compatibility" } as GPURequestAdapterOptions));
  if (!adapter) throw new NoWebGpuError("navigator.gpu.requestAdapter() found no adapter (WebGPU may be disabled or the GPU blocklisted)");
  const limits: Record<string, number> = {};
  for (const k of ["maxStorageBuffersPerShaderStage", "maxComputeInvocationsPerWorkgroup", "maxComputeWorkgroupSizeX", "maxComputeWorkgroupSizeY", "maxComputeWorkgroupStorageSize", "maxStorageBufferBindingSize"] as const) {
    limits[k] = adapter.limits[k];
  }
  const device = await adapter.requestDevice({ requiredLimits: limits });
  const info = adapter.info;
  return { device, description: [info.vendor, info.architecture, info.description].filter(Boolean).join(" ") || "WebGPU adapter" };
}
