// The spec's images (`images:`, e.g. the filters of a layer) written while a
// model trains: at every epoch end, phase end or the run's end, as each image
// asks. Rendering is images.ts; encoding is left to the caller (PNG in Node:
// png.ts) so this module runs in the browser too.
//
// The trainer writes a point's images before the checkpoint that records
// the point, so a run resumed after a crash between the two writes them
// again rather than missing them.
import type { CompiledModel, ImageWhen } from "../compiled-model.ts";
import type { Logger } from "../progress.ts";
import type { RunStore } from "../train/run-store.ts";
import { TrainingError } from "../train/training-error.ts";
import { imageFileName, renderImage } from "./images.ts";
import type { TiledImage } from "./tile.ts";

/** Encodes grayscale pixels (row-major, one byte each) as an image file. */
export type ImageEncoder = (pixels: Uint8Array, width: number, height: number) => Uint8Array;

export class ImageSnapshots {
  /** The "not written" notice was given (once per run, not per point). */
  private skipped = false;

  constructor(
    private readonly model: CompiledModel,
    private readonly store: RunStore,
    private readonly log: Logger,
    /** Without an encoder the images are skipped, with a notice. */
    private readonly encode?: ImageEncoder,
  ) {}

  /** Writes one image of any kind (a sampler's trace) through the encoder;
   * false, after the once-per-run notice, when there is none. */
  async writePixels(file: string, pixels: Uint8Array, width: number, height: number): Promise<boolean> {
    if (!this.encode) {
      if (!this.skipped) this.log.info(`images: not written (no image encoder given to the trainer): ${file}`);
      this.skipped = true;
      return false;
    }
    await this.store.writeAtomic(file, this.encode(pixels, width, height));
    return true;
  }

  /** Writes the images due at `when`, from the model's current values.
   * `phaseName` and `epoch` name the files (imageFileName). */
  async write(when: ImageWhen, phaseName: string, epoch: number): Promise<void> {
    const { model, store, log } = this;
    const desc = model.desc;
    const list = (desc.images ?? []).filter((i) => i.when === when);
    if (list.length === 0) return;
    if (!this.encode) {
      if (!this.skipped) log.info(`images: not written (no image encoder given to the trainer): ${list.map((i) => i.name).join(", ")}`);
      this.skipped = true;
      return;
    }
    await model.download?.();
    for (const img of list) {
      const file = imageFileName(img, desc.phases.length, phaseName, epoch);
      let tiled: TiledImage<Uint8Array>;
      try {
        tiled = renderImage(desc, img, img.source === "param" ? model.params : model.state);
      } catch (e) {
        // A description whose image does not fit its tensor: the user's spec.
        throw e instanceof RangeError ? new TrainingError(e.message) : e;
      }
      await store.writeAtomic(file, this.encode(tiled.pixels, tiled.width, tiled.height));
      log.info(`image ${img.name}: ${store.where(file)} (${img.tiles[0]}×${img.tiles[1]} tiles of ${img.imageShape[0]}×${img.imageShape[1]} from ${img.tensor}${img.transpose ? ".T" : ""})`);
    }
  }
}
