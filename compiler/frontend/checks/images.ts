// Checks of the `images:` section: the tensor shown is a parameter or a
// state tensor (E050), its rows are images of the declared shape (E051), and
// no sampler writes the same file (E052). Shapes are declared in the spec,
// so none of these needs the IR.

import type { Diagnostic } from "../diagnostics.ts";
import { choiceHelp } from "../suggest.ts";
import type { ImageSpec, Spec } from "../types.ts";
import { KIND_NAME, type SpecCheck } from "./context.ts";

/** The declared shape of a parameter or state tensor, and which it is. */
function tensorOf(spec: Spec, name: string): { shape: readonly number[]; kind: "params" | "state" } | undefined {
  const p = spec.params[name];
  if (p) return { shape: p.shape, kind: "params" };
  const s = spec.state?.[name];
  return s ? { shape: s.shape, kind: "state" } : undefined;
}

const imagesOf = (spec: Spec): [string, ImageSpec][] => Object.entries(spec.images ?? {});

export const imageTensor: SpecCheck = {
  code: "E050",
  title: "image of something that is not a parameter",
  run(ls, ctx) {
    const choices = [...Object.keys(ls.spec.params), ...Object.keys(ls.spec.state ?? {})];
    const label = ls.spec.state ? "parameters and state tensors" : "parameters";
    return imagesOf(ls.spec)
      .filter(([, im]) => tensorOf(ls.spec, im.tensor) === undefined)
      .map(([n, im]) => {
        const d = ctx.scope.get(im.tensor);
        const msg = d
          ? `image '${n}' shows '${im.tensor}', which is ${KIND_NAME[d.kind]}: images show parameters and state tensors`
          : `unknown tensor '${im.tensor}' in images.${n}.tensor: images show parameters and state tensors`;
        return ctx.diag("E050", { path: ["images", n, "tensor"] }, msg, { help: choiceHelp(im.tensor, choices, label) });
      });
  },
};

/** The factor pair of n closest to a square, as `[h, w]` with h ≤ w. */
function squarest(n: number): [number, number] {
  let h = Math.floor(Math.sqrt(n));
  while (h > 1 && n % h !== 0) h--;
  return [h, n / h];
}

export const imageShape: SpecCheck = {
  code: "E051",
  title: "image shape does not fit the tensor",
  run(ls, ctx) {
    const out: Diagnostic[] = [];
    for (const [n, im] of imagesOf(ls.spec)) {
      const t = tensorOf(ls.spec, im.tensor);
      if (!t) continue;
      const declared = ctx.related({ path: [t.kind, im.tensor, "shape"] }, `'${im.tensor}' is declared [${t.shape.join(", ")}] here`);
      const size = t.shape.reduce((a, d) => a * d, 1);
      if (t.shape.length === 0) {
        out.push(ctx.diag("E051", { path: ["images", n, "tensor"] }, `image '${n}': '${im.tensor}' is a scalar, not an image`, { help: "show a vector (one image) or a matrix (one image per row)", related: [declared] }));
        continue;
      }
      if (im.transpose && t.shape.length !== 2) {
        out.push(
          ctx.diag("E051", { path: ["images", n, "transpose"], key: true }, `image '${n}': \`transpose\` needs a matrix, but '${im.tensor}' has ${t.shape.length} dimensions [${t.shape.join(", ")}]`, {
            help: t.shape.length === 1 ? "a vector is one image: remove `transpose`" : "remove `transpose`: the images are the tensor's slices along its first axis",
            related: [declared],
          }),
        );
        continue;
      }
      const rows = im.transpose ? t.shape[1]! : t.shape.length === 1 ? 1 : t.shape[0]!;
      const rowLength = size / rows;
      const [h, w] = im.image_shape;
      if (h * w !== rowLength) {
        const what = im.transpose ? `a row of ${im.tensor}.T (a column of ${im.tensor})` : t.shape.length === 1 ? `'${im.tensor}'` : `a row of '${im.tensor}'`;
        const [sh, sw] = squarest(rowLength);
        const transposed = !im.transpose && t.shape.length === 2 && h * w === t.shape[0] ? "; or add `transpose: true` to show its columns" : "";
        out.push(
          ctx.diag("E051", { path: ["images", n, "image_shape"] }, `image '${n}': an image of ${h}×${w} = ${h * w} pixels, but ${what} has ${rowLength} values`, {
            help: `image_shape must multiply to ${rowLength}, e.g. [${sh}, ${sw}]${transposed}`,
            related: [declared],
          }),
        );
      }
    }
    return out;
  },
};

export const imageFileClash: SpecCheck = {
  code: "E052",
  title: "two outputs write the same file",
  run(ls, ctx) {
    const samplers = Object.keys(ls.spec.samplers ?? {});
    return imagesOf(ls.spec)
      .filter(([n, im]) => (im.when ?? "end") === "end" && samplers.includes(n))
      .map(([n]) =>
        ctx.diag("E052", { path: ["images", n], key: true }, `image '${n}' and sampler '${n}' would both write ${n}.png`, {
          help: "rename one of them",
          related: [ctx.related({ path: ["samplers", n], key: true }, `sampler '${n}'`)],
        }),
      );
  },
};
