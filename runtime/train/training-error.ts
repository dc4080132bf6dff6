// Why training cannot go on, in words a user can act on. Kept apart from the
// trainer so the modules that detect such conditions (the phase loop, image
// snapshots) need not import the trainer that imports them.
import type { CompiledModel } from "../compiled-model.ts";

/** Training cannot go on (diverged, inconsistent description). `code`:
 * the docs/errors.md code, printed as `error[Ennn]:`. */
export class TrainingError extends Error {
  override readonly name = "TrainingError";
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** ", first non-finite value from exp %12 at specs/x.yaml:16:16 (...)", read
 * from the model's probe of the step that just ran. */
export function firstNonFinite(model: CompiledModel, stepFn: number): string {
  const probes = model.probe?.(stepFn) ?? [];
  if (probes.length === 0) {
    // GPU buffers are not host-visible (and are reused within a step); the
    // CPU backend resumes the same checkpoint and names the op.
    return "; to find the op that produced it, resume from the last checkpoint with --backend cpu (same checkpoint format)";
  }
  for (const [what, values] of probes) {
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i]!)) return `; the first non-finite value (${values[i]}) came from ${what}`;
    }
  }
  return "";
}
