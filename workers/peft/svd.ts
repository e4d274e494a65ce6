/**
 * The leading singular triplets of a dense matrix in float64, for PiSSA's initialisation: the
 * eigen-decomposition of the smaller Gram matrix by cyclic Jacobi rotations, then the other
 * side's vectors as `K v / sigma`. Squaring the matrix costs precision only in the small
 * singular values, not in the leading ones PiSSA keeps; the cost is O(n^3) per sweep in the
 * smaller dimension n (seconds for 768, milliseconds for test shapes).
 */

/** `U` `[rows, r]`, `S` `[r]` (descending), `V` `[cols, r]`, row-major, with `K ~ U diag(S) V^T`. */
export interface TruncatedSvd {
  u: Float64Array;
  s: Float64Array;
  v: Float64Array;
}

/** Eigenvalues (descending) and eigenvectors (columns of an `[n, n]` row-major matrix) of a symmetric matrix. */
export function symmetricEigen(matrix: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < n; i++) {
      diag += a[i * n + i]! ** 2;
      for (let j = i + 1; j < n; j++) off += a[i * n + j]! ** 2;
    }
    if (off <= 1e-30 * diag || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let r = p + 1; r < n; r++) {
        const apr = a[p * n + r]!;
        if (apr === 0) continue;
        // The rotation that zeroes a[p][r] (Golub & Van Loan's symmetric Schur step).
        const theta = (a[r * n + r]! - a[p * n + p]!) / (2 * apr);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akr = a[k * n + r]!;
          a[k * n + p] = c * akp - s * akr;
          a[k * n + r] = s * akp + c * akr;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const ark = a[r * n + k]!;
          a[p * n + k] = c * apk - s * ark;
          a[r * n + k] = s * apk + c * ark;
        }
        for (let k = 0; k < n; k++) {
          const qkp = q[k * n + p]!;
          const qkr = q[k * n + r]!;
          q[k * n + p] = c * qkp - s * qkr;
          q[k * n + r] = s * qkp + c * qkr;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[y * n + y]! - a[x * n + x]!);
  const values = Float64Array.from(order, (i) => a[i * n + i]!);
  const vectors = new Float64Array(n * n);
  order.forEach((from, to) => {
    for (let k = 0; k < n; k++) vectors[k * n + to] = q[k * n + from]!;
  });
  return { values, vectors };
}

/** The `rank` leading singular triplets of the `[rows, cols]` row-major matrix `k`. */
export function truncatedSvd(k: ArrayLike<number>, rows: number, cols: number, rank: number): TruncatedSvd {
  if (!(Number.isInteger(rank) && rank >= 1 && rank <= Math.min(rows, cols))) throw new RangeError(`rank must be in 1..${Math.min(rows, cols)}, got ${rank}`);
  // Work on the side with the smaller Gram matrix; `t` marks the transposed case.
  const t = cols > rows;
  const m = t ? cols : rows;
  const n = t ? rows : cols;
  const at = (i: number, j: number): number => (t ? k[j * cols + i]! : k[i * cols + j]!);
  const gram = new Float64Array(n * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < n; p++) {
      const x = at(i, p);
      if (x === 0) continue;
      for (let q = p; q < n; q++) gram[p * n + q] = gram[p * n + q]! + x * at(i, q);
    }
  }
  for (let p = 0; p < n; p++) for (let q = 0; q < p; q++) gram[p * n + q] = gram[q * n + p]!;
  const { values, vectors } = symmetricEigen(gram, n);
  const s = new Float64Array(rank);
  const small = new Float64Array(n * rank);
  const large = new Float64Array(m * rank);
  for (let j = 0; j < rank; j++) {
    const sigma = Math.sqrt(Math.max(values[j]!, 0));
    s[j] = sigma;
    for (let p = 0; p < n; p++) small[p * rank + j] = vectors[p * n + j]!;
    for (let i = 0; i < m; i++) {
      let sum = 0;
      for (let p = 0; p < n; p++) sum += at(i, p) * vectors[p * n + j]!;
      large[i * rank + j] = sigma > 0 ? sum / sigma : 0;
    }
  }
  return t ? { u: small, s, v: large } : { u: large, s, v: small };
}
