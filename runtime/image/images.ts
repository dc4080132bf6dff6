// The images of a model description (`images:` in the spec): which file each
// one goes to and its pixels, from the current parameter or state values.
// Pure; snapshots.ts encodes and stores the result during training.
import type { ImageDesc, ModelDescription } from "../compiled-model.ts";
import { rowsOf, tileRasterImages } from "./tile.ts";
import type { TiledImage } from "./tile.ts";

/** File name of an image written at `when`: <name>.png at the end,
 * <name>_<phase>.png per phase, <name>_epoch_<E>.png per epoch (with the
 * phase's name before `_epoch` when the model has several phases). */
export function imageFileName(img: ImageDesc, phases: number, phase: string, epoch: number): string {
  switch (img.when) {
    case "end":
      return `${img.name}.png`;
    case "phase":
      return `${img.name}_${phase}.png`;
    case "epoch":
      return phases > 1 ? `${img.name}_${phase}_epoch_${epoch}.png` : `${img.name}_epoch_${epoch}.png`;
  }
}

/** tile_raster_images of the image's tensor, read from `values`. Throws
 * RangeError when the description does not fit the tensor. */
export function renderImage(desc: ModelDescription, img: ImageDesc, values: Readonly<Record<string, Float32Array>>): TiledImage<Uint8Array> {
  const list = img.source === "param" ? desc.params : desc.state;
  const t = list.find((p) => p.name === img.tensor);
  const v = values[img.tensor];
  if (!t || !v) throw new RangeError(`image '${img.name}': the model has no ${img.source} tensor '${img.tensor}'`);
  const { data, rows, rowLength } = rowsOf(v, t.shape, img.transpose);
  const [h, w] = img.imageShape;
  if (rowLength !== h * w) {
    throw new RangeError(`image '${img.name}': rows of '${img.tensor}' [${t.shape.join(", ")}]${img.transpose ? " transposed" : ""} have ${rowLength} values, not ${h}×${w}`);
  }
  return tileRasterImages(data, rows, [h, w], [img.tiles[0], img.tiles[1]], [img.spacing[0], img.spacing[1]], { scaleRowsToUnitInterval: img.scaleRows });
}
