// Orthogonal initialisation, as lstm.py's ortho_weight (the U of the SVD of
// a standard Gaussian n×n matrix), for an LSTM's stacked gate weights: a
// rows × cols matrix with cols = k·rows is k independent orthogonal blocks
// side by side, with rows = k·cols k blocks stacked.
//
// Each block is the Q of a QR factorisation (modified Gram-Schmidt, in
// doubles) of a Philox Gaussian matrix, each column's sign fixed by the
// sign of R's diagonal: that Q is Haar-distributed (Mezzadri 2007), the same
// distribution as the SVD's U. Draws use element index i of the whole
// matrix, so the values do not depend on the block layout's order of work.
import { normal } from "../rng/philox.ts";

export function orthogonalInit(out: Float32Array, rows: number, cols: number, seed: number, salt: number): void {
  const n = Math.min(rows, cols);
  const k = Math.max(rows, cols) / n;
  if (!Number.isInteger(k) || rows * cols !== out.length) {
    throw new Error(`orthogonal init needs a [n, k·n] or [k·n, n] matrix, got [${rows}, ${cols}]`);
  }
  for (let blk = 0; blk < k; blk++) {
    // Block blk covers columns blk·n.. (side by side) or rows blk·n.. (stacked).
    const at = (r: number, c: number) => (cols >= rows ? r * cols + blk * n + c : (blk * n + r) * cols + c);
    // q[c] is column c of the block, in doubles.
    const q = Array.from({ length: n }, (_, c) => Float64Array.from({ length: n }, (_, r) => normal(seed, salt, 0, 0, at(r, c))));
    for (let c = 0; c < n; c++) {
      const v = q[c]!;
      for (let p = 0; p < c; p++) {
        const u = q[p]!;
        let dot = 0;
        for (let r = 0; r < n; r++) dot += u[r]! * v[r]!;
        for (let r = 0; r < n; r++) v[r]! -= dot * u[r]!;
      }
      let norm = 0;
      for (let r = 0; r < n; r++) norm += v[r]! * v[r]!;
      norm = Math.sqrt(norm);
      // R's diagonal entry is the norm (positive) here, so Gram-Schmidt's Q
      // already has the Haar sign convention.
      for (let r = 0; r < n; r++) v[r]! /= norm;
    }
    for (let c = 0; c < n; c++) for (let r = 0; r < n; r++) out[at(r, c)] = q[c]![r]!;
  }
}
