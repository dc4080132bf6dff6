// Vitest global setup: the WebGPU tests need an adapter, and on a machine
// without a GPU that is Mesa's llvmpipe, which needs five Debian packages (libegl-dev for the unversioned libEGL.so that Dawn loads).
// A fresh machine (the README's quick start: `npm test`) may not have them:
// when no adapter can be had and we may install system packages (root with
// apt-get), install them once, saying so; otherwise the WebGPU tests fail
// with a message naming the packages (they are never skipped).

import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { LLVMPIPE_PACKAGES } from "../../runtime/node/webgpu.ts";

/** Dawn dlopens the unversioned libEGL.so; EGL then needs Mesa's vendor
 * library and its software rasteriser. */
function hasEgl(): boolean {
  const dirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu"];
  const has = (f: string) => dirs.some((d) => existsSync(`${d}/${f}`));
  return has("libEGL.so") && has("libEGL_mesa.so.0") && has("dri/swrast_dri.so");
}

export default function setup(): void {
  process.env.EGL_PLATFORM ??= "surfaceless";
  if (process.platform !== "linux" || hasEgl()) return;
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  if (!root || !existsSync("/usr/bin/apt-get")) {
    process.stderr.write(`WebGPU tests need Mesa's llvmpipe: sudo apt-get install ${LLVMPIPE_PACKAGES.join(" ")}\n`);
    return;
  }
  process.stderr.write(`installing ${LLVMPIPE_PACKAGES.join(" ")} for the WebGPU tests (Mesa llvmpipe through EGL)…\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...LLVMPIPE_PACKAGES], { stdio: "inherit", env });
}
