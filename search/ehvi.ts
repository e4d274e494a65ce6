/**
 * Expected hypervolume improvement for independent Gaussian objectives, exact in 1-3
 * dimensions. The region no current point dominates is split into disjoint boxes; the
 * improvement of y is the volume of those boxes above y, a product of 1-D terms per box, so
 * the expectation is Σ_box Π_d (ψ_d(hi_d) − ψ_d(lo_d)) with ψ(t) = E[(t − Y)⁺].
 * An objective known exactly (trainable parameters) has σ = 0, which turns its factor into a
 * plain length and the whole sum into a 1-D integral over the modelled metric.
 */
import type { Box } from './pareto.js';
import { nonDominatedBoxes } from './pareto.js';

/** Standard normal density. */
export function normalPdf(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
}

/** Standard normal distribution function (erfc approximation, relative error < 1.2e-7). */
export function normalCdf(z: number): number {
  const x = -z / Math.SQRT2;
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return 0.5 * (x >= 0 ? erfc : 2 - erfc);
}

/** ψ(t) = E[(t − Y)⁺] for Y ~ N(mean, sd²); sd = 0 gives (t − mean)⁺. */
export function expectedShortfall(t: number, mean: number, sd: number): number {
  if (t === -Infinity) return 0;
  if (sd <= 0) return Math.max(0, t - mean);
  const z = (t - mean) / sd;
  return (t - mean) * normalCdf(z) + sd * normalPdf(z);
}

/**
 * log ψ(t), stable far in the tail: ψ = sd · (zΦ(z) + φ(z)) with z = (t − mean) / sd, and for
 * z < −20 the asymptotic zΦ(z) + φ(z) = φ(z) (1/z² − 3/z⁴ + 15/z⁶ − …). −Infinity when
 * ψ is exactly 0 (a known value at or beyond t).
 */
export function logExpectedShortfall(t: number, mean: number, sd: number): number {
  if (t === -Infinity) return -Infinity;
  if (sd <= 0) return t > mean ? Math.log(t - mean) : -Infinity;
  const z = (t - mean) / sd;
  if (z > -20) return Math.log(sd * (z * normalCdf(z) + normalPdf(z)));
  const w = 1 / (z * z);
  return Math.log(sd) - 0.5 * z * z - 0.5 * Math.log(2 * Math.PI) + Math.log(w * (1 - 3 * w + 15 * w * w));
}

/** Boxes of a front indexed by the distinct coordinates per objective, to evaluate many candidates fast. */
export class HypervolumeImprovement {
  private readonly coordinates: number[][];
  private readonly boxIndex: Int32Array;
  readonly boxes: Box[];

  /** `front` and `reference` in minimisation form. */
  constructor(
    front: readonly (readonly number[])[],
    readonly reference: readonly number[],
  ) {
    this.boxes = nonDominatedBoxes(front, reference);
    const m = reference.length;
    this.coordinates = Array.from({ length: m }, (_, d) => [...new Set(this.boxes.flatMap((b) => [b.lo[d]!, b.hi[d]!]))].sort((a, b) => a - b));
    this.boxIndex = new Int32Array(this.boxes.length * 2 * m);
    // By map, not indexOf: a 3-D front of f points has O(f²) boxes and O(f) coordinates.
    const positions = this.coordinates.map((coords) => new Map(coords.map((t, i) => [t, i])));
    for (const [k, box] of this.boxes.entries()) {
      for (let d = 0; d < m; d++) {
        this.boxIndex[(k * 2 + 0) * m + d] = positions[d]!.get(box.lo[d]!)!;
        this.boxIndex[(k * 2 + 1) * m + d] = positions[d]!.get(box.hi[d]!)!;
      }
    }
  }

  /** Expected improvement for independent normal objectives (sd 0 for exactly known ones). */
  expected(mean: readonly number[], sd: readonly number[]): number {
    const m = this.reference.length;
    for (let d = 0; d < m; d++) if (sd[d]! <= 0 && mean[d]! >= this.reference[d]!) return 0;
    const psi = this.coordinates.map((coords, d) => coords.map((t) => expectedShortfall(t, mean[d]!, sd[d]!)));
    let total = 0;
    for (let k = 0; k < this.boxes.length; k++) {
      let product = 1;
      for (let d = 0; d < m && product > 0; d++) {
        const p = psi[d]!;
        product *= p[this.boxIndex[(k * 2 + 1) * m + d]!]! - p[this.boxIndex[(k * 2 + 0) * m + d]!]!;
      }
      total += product;
    }
    return Math.max(0, total);
  }

  /**
   * Whether some point of the front lies inside the reference box. When none does, the
   * region to improve is the whole box, the improvement is Π_d ψ_d(reference_d), and far
   * from the box it underflows to 0 for every candidate: use `logExpected` to rank them.
   */
  get boxEntered(): boolean {
    return !(this.boxes.length === 1 && this.boxes[0]!.lo.every((v) => v === -Infinity));
  }

  /**
   * log of the expected improvement while no point is inside the box: Σ_d log ψ_d(reference_d),
   * the log of the expected volume of the box the candidate dominates, which still ranks
   * candidates (toward the box) where the improvement itself underflows.
   */
  logExpected(mean: readonly number[], sd: readonly number[]): number {
    if (this.boxEntered) return Math.log(this.expected(mean, sd));
    let total = 0;
    for (let d = 0; d < this.reference.length; d++) total += logExpectedShortfall(this.reference[d]!, mean[d]!, sd[d]!);
    return total;
  }

  /** Exact improvement of a known point (all sd 0). */
  exact(point: readonly number[]): number {
    return this.expected(point, point.map(() => 0));
  }
}
