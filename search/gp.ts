/**
 * A Gaussian-process regressor with a Matérn-5/2 ARD kernel, written with plain arrays:
 * Cholesky factorisation, triangular solves, and hyperparameters fitted by maximising the
 * log marginal likelihood plus weak priors (Adam on log-parameters, several starts).
 */

const SQRT5 = Math.sqrt(5);
const LOG_2PI = Math.log(2 * Math.PI);

/** Kernel and noise hyperparameters (for standardised outputs). */
export interface GpHyperparameters {
  lengthscales: number[];
  /** Signal variance. */
  signal: number;
  /** Observation-noise variance. */
  noise: number;
}

/** Posterior of the latent function at one input, in the units of the training outputs. */
export interface Prediction {
  mean: number;
  variance: number;
}

/** Options of the hyperparameter fit. */
export interface GpFitOptions {
  /** Points used to fit hyperparameters (a deterministic subset beyond this). @defaultValue 64 */
  maxFitPoints?: number;
  /** Adam steps per start. @defaultValue 60 */
  iterations?: number;
  /** Lower bound of the noise variance (standardised units). @defaultValue 1e-6 */
  minNoise?: number;
}

function matern(r: number): number {
  return (1 + SQRT5 * r + (5 / 3) * r * r) * Math.exp(-SQRT5 * r);
}

/** In-place Cholesky of a symmetric matrix given as rows (lower triangle read). Returns false if not positive definite. */
function choleskyRows(rows: Float64Array[]): boolean {
  const n = rows.length;
  for (let i = 0; i < n; i++) {
    const ri = rows[i]!;
    for (let j = 0; j <= i; j++) {
      const rj = rows[j]!;
      let sum = ri[j]!;
      for (let k = 0; k < j; k++) sum -= ri[k]! * rj[k]!;
      if (i === j) {
        if (!(sum > 0)) return false;
        ri[i] = Math.sqrt(sum);
      } else ri[j] = sum / rj[j]!;
    }
  }
  return true;
}

/** Solves L z = b for lower-triangular L stored as rows. */
function forward(rows: Float64Array[], b: ArrayLike<number>, n = rows.length): Float64Array {
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const ri = rows[i]!;
    let sum = b[i]!;
    for (let k = 0; k < i; k++) sum -= ri[k]! * z[k]!;
    z[i] = sum / ri[i]!;
  }
  return z;
}

/** Solves Lᵀ x = z for lower-triangular L stored as rows. */
function backward(rows: Float64Array[], z: Float64Array): Float64Array {
  const n = z.length;
  const x = Float64Array.from(z);
  for (let i = n - 1; i >= 0; i--) {
    x[i] = x[i]! / rows[i]![i]!;
    const xi = x[i]!;
    const ri = rows[i]!;
    for (let k = 0; k < i; k++) x[k] = x[k]! - ri[k]! * xi;
  }
  return x;
}

/** A GP conditioned on data; `addObservation` extends it (e.g. with fantasies) in O(n²). */
export class GaussianProcess {
  private readonly scaled: Float64Array[] = [];
  private readonly ys: number[] = [];
  private readonly extra: number[] = [];
  private chol: Float64Array[] = [];
  private alpha: Float64Array | undefined;
  private readonly inverseLengthscales: number[];

  constructor(
    inputs: readonly (readonly number[])[],
    outputs: readonly number[],
    readonly hyper: GpHyperparameters,
    private readonly yMean: number,
    private readonly yStd: number,
    extraNoise?: readonly number[],
  ) {
    this.inverseLengthscales = hyper.lengthscales.map((l) => 1 / l);
    for (const [i, x] of inputs.entries()) {
      this.scaled.push(this.scale(x));
      this.ys.push((outputs[i]! - yMean) / yStd);
      this.extra.push(extraNoise?.[i] ?? 0);
    }
    this.factorise();
  }

  /** Number of conditioning points. */
  get size(): number {
    return this.ys.length;
  }

  private scale(x: readonly number[]): Float64Array {
    return Float64Array.from(x, (v, d) => v * this.inverseLengthscales[d]!);
  }

  private kernel(a: Float64Array, b: Float64Array): number {
    let r2 = 0;
    for (let d = 0; d < a.length; d++) {
      const diff = a[d]! - b[d]!;
      r2 += diff * diff;
    }
    return this.hyper.signal * matern(Math.sqrt(r2));
  }

  private factorise(): void {
    const n = this.ys.length;
    for (let jitter = 0; jitter < 6; jitter++) {
      const extra = jitter === 0 ? 0 : 1e-8 * 10 ** jitter;
      const rows = Array.from({ length: n }, (_, i) => {
        const row = new Float64Array(i + 1);
        for (let j = 0; j < i; j++) row[j] = this.kernel(this.scaled[i]!, this.scaled[j]!);
        row[i] = this.hyper.signal + this.hyper.noise + 1e-10 + extra + this.extra[i]!;
        return row;
      });
      if (choleskyRows(rows)) {
        this.chol = rows;
        this.alpha = undefined;
        return;
      }
    }
    throw new RangeError('the kernel matrix is not positive definite even with jitter');
  }

  /** Conditions on one more observation (raw output units). */
  addObservation(x: readonly number[], y: number): void {
    const xs = this.scale(x);
    const k = this.scaled.map((s) => this.kernel(xs, s));
    const l = forward(this.chol, k);
    let d = this.hyper.signal + this.hyper.noise + 1e-10;
    for (const v of l) d -= v * v;
    const row = new Float64Array(l.length + 1);
    row.set(l);
    row[l.length] = Math.sqrt(Math.max(d, 1e-12));
    this.chol.push(row);
    this.scaled.push(xs);
    this.ys.push((y - this.yMean) / this.yStd);
    this.extra.push(0);
    this.alpha = undefined;
  }

  /** Posterior mean and variance of the latent function at x. */
  predict(x: readonly number[]): Prediction {
    this.alpha ??= backward(this.chol, forward(this.chol, this.ys));
    const xs = this.scale(x);
    const n = this.ys.length;
    const k = new Float64Array(n);
    let mean = 0;
    for (let i = 0; i < n; i++) {
      k[i] = this.kernel(xs, this.scaled[i]!);
      mean += k[i]! * this.alpha[i]!;
    }
    const v = forward(this.chol, k);
    let variance = this.hyper.signal;
    for (let i = 0; i < n; i++) variance -= v[i]! * v[i]!;
    return { mean: this.yMean + this.yStd * mean, variance: Math.max(variance, 1e-12) * this.yStd * this.yStd };
  }
}

interface Standardised {
  mean: number;
  std: number;
  z: number[];
}

function standardise(y: readonly number[]): Standardised {
  const mean = y.reduce((a, b) => a + b, 0) / y.length;
  const variance = y.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, y.length - 1);
  const std = variance > 1e-24 ? Math.sqrt(variance) : 1;
  return { mean, std, z: y.map((v) => (v - mean) / std) };
}

/**
 * Log marginal likelihood plus log priors, and its gradient, with respect to
 * θ = [log lengthscale_1..D, log signal, log noise]. Flat row-major arrays throughout.
 */
export function logPosterior(
  x: readonly (readonly number[])[],
  z: readonly number[],
  theta: readonly number[],
  extraNoise?: readonly number[],
): { value: number; gradient: number[] } {
  const n = x.length;
  const dims = theta.length - 2;
  const signal = Math.exp(theta[dims]!);
  const noise = Math.exp(theta[dims + 1]!);
  const scaled = new Float64Array(n * dims);
  for (let i = 0; i < n; i++) for (let d = 0; d < dims; d++) scaled[i * dims + d] = x[i]![d]! / Math.exp(theta[d]!);
  const r = new Float64Array(n * n);
  const kf = new Float64Array(n * n);
  const chol = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      let r2 = 0;
      for (let d = 0; d < dims; d++) {
        const diff = scaled[i * dims + d]! - scaled[j * dims + d]!;
        r2 += diff * diff;
      }
      const rij = Math.sqrt(r2);
      r[i * n + j] = rij;
      kf[i * n + j] = signal * matern(rij);
      chol[i * n + j] = kf[i * n + j]!;
    }
    chol[i * n + i] = signal + noise + 1e-8 + (extraNoise?.[i] ?? 0);
  }
  // Cholesky in place (lower triangle).
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = chol[i * n + j]!;
      for (let k = 0; k < j; k++) sum -= chol[i * n + k]! * chol[j * n + k]!;
      if (i === j) {
        if (!(sum > 0)) return { value: -Infinity, gradient: theta.map(() => 0) };
        chol[i * n + i] = Math.sqrt(sum);
      } else chol[i * n + j] = sum / chol[j * n + j]!;
    }
  }
  // invT[c][i] = (L⁻¹)[i][c]: column c of L⁻¹, stored as a row.
  const invT = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    invT[c * n + c] = 1 / chol[c * n + c]!;
    for (let i = c + 1; i < n; i++) {
      let sum = 0;
      for (let k = c; k < i; k++) sum -= chol[i * n + k]! * invT[c * n + k]!;
      invT[c * n + i] = sum / chol[i * n + i]!;
    }
  }
  // α = K⁻¹ z = L⁻ᵀ L⁻¹ z.
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let c = 0; c <= i; c++) sum += invT[c * n + i]! * z[c]!;
    w[i] = sum;
  }
  const alpha = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    let sum = 0;
    for (let i = c; i < n; i++) sum += invT[c * n + i]! * w[i]!;
    alpha[c] = sum;
  }
  let value = -0.5 * n * LOG_2PI;
  for (let i = 0; i < n; i++) value -= 0.5 * z[i]! * alpha[i]! + Math.log(chol[i * n + i]!);
  const gradient = new Array<number>(dims + 2).fill(0);
  const lengthGrad = new Float64Array(dims);
  let signalGrad = 0;
  let noiseGrad = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      // (K⁻¹)_ij = Σ_{k ≥ i} (L⁻¹)_ki (L⁻¹)_kj.
      let inverse = 0;
      for (let k = i; k < n; k++) inverse += invT[i * n + k]! * invT[j * n + k]!;
      const wij = alpha[i]! * alpha[j]! - inverse;
      if (i === j) {
        signalGrad += 0.5 * wij * signal;
        noiseGrad += 0.5 * wij * noise;
        continue;
      }
      signalGrad += wij * kf[i * n + j]!;
      const rij = r[i * n + j]!;
      const g = wij * signal * (5 / 3) * (1 + SQRT5 * rij) * Math.exp(-SQRT5 * rij);
      for (let d = 0; d < dims; d++) {
        const diff = scaled[i * dims + d]! - scaled[j * dims + d]!;
        lengthGrad[d] = lengthGrad[d]! + g * diff * diff;
      }
    }
  }
  for (let d = 0; d < dims; d++) gradient[d] = lengthGrad[d]!;
  gradient[dims] = signalGrad;
  gradient[dims + 1] = noiseGrad;
  // Priors: dimension-scaled log-normal on lengthscales, log-normal on the signal, Gamma(1.1, 0.05) on the noise.
  const mu = Math.SQRT2 + 0.5 * Math.log(dims);
  const sigma2 = 3;
  for (let d = 0; d < dims; d++) {
    value -= (theta[d]! - mu) ** 2 / (2 * sigma2);
    gradient[d]! -= (theta[d]! - mu) / sigma2;
  }
  value -= theta[dims]! ** 2 / 2;
  gradient[dims]! -= theta[dims]!;
  value += 1.1 * theta[dims + 1]! - 0.05 * noise;
  gradient[dims + 1]! += 1.1 - 0.05 * noise;
  return { value, gradient };
}

/** Deterministic subset: the best half by output (lowest) and evenly spread others. */
function fitSubset(n: number, y: readonly number[], max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => y[a]! - y[b]! || a - b);
  const best = order.slice(0, Math.floor(max / 2));
  const rest = order.slice(best.length).sort((a, b) => a - b);
  const need = max - best.length;
  const spread = Array.from({ length: need }, (_, k) => rest[Math.floor((k * rest.length) / need)]!);
  return [...best, ...spread].sort((a, b) => a - b);
}

/** One Adam ascent of the log posterior in log-parameter space, clipped to bounds. */
class AdamRun {
  private readonly m: number[];
  private readonly v: number[];
  private t = 0;
  best: { theta: number[]; value: number } = { theta: [], value: -Infinity };

  constructor(
    private readonly theta: number[],
    private readonly lower: number[],
    private readonly upper: number[],
  ) {
    this.m = theta.map(() => 0);
    this.v = theta.map(() => 0);
    this.best = { theta: [...theta], value: -Infinity };
  }

  step(x: readonly (readonly number[])[], z: readonly number[], extra?: readonly number[]): void {
    const { value, gradient } = logPosterior(x, z, this.theta, extra);
    if (value > this.best.value) this.best = { theta: [...this.theta], value };
    if (!Number.isFinite(value)) return;
    this.t++;
    for (let i = 0; i < this.theta.length; i++) {
      const g = gradient[i]!;
      this.m[i] = 0.9 * this.m[i]! + 0.1 * g;
      this.v[i] = 0.999 * this.v[i]! + 0.001 * g * g;
      const step = (0.1 * (this.m[i]! / (1 - 0.9 ** this.t))) / (Math.sqrt(this.v[i]! / (1 - 0.999 ** this.t)) + 1e-8);
      this.theta[i] = Math.min(this.upper[i]!, Math.max(this.lower[i]!, this.theta[i]! + step));
    }
  }
}

/**
 * Fits hyperparameters by maximum a posteriori and conditions a GP on all the data.
 * `extraNoise[i]` (standardised variance) marks observation i as less reliable (e.g. a pruned
 * trial's last report).
 */
export function fitGaussianProcess(x: readonly (readonly number[])[], y: readonly number[], options: GpFitOptions = {}, extraNoise?: readonly number[]): GaussianProcess {
  const { maxFitPoints = 64, iterations = 60, minNoise = 1e-6 } = options;
  const dims = x[0]?.length ?? 0;
  const all = standardise(y);
  const subset = fitSubset(x.length, all.z, maxFitPoints);
  const fx = subset.map((i) => x[i]!);
  const fz = standardise(subset.map((i) => y[i]!)).z;
  const fe = extraNoise ? subset.map((i) => extraNoise[i]!) : undefined;
  const lower = [...new Array<number>(dims).fill(Math.log(0.01)), Math.log(0.05), Math.log(minNoise)];
  const upper = [...new Array<number>(dims).fill(Math.log(100)), Math.log(20), Math.log(1)];
  const scale = Math.sqrt(Math.max(1, dims));
  const starts = [
    [...new Array<number>(dims).fill(Math.log(0.5 * scale)), 0, Math.log(1e-3)],
    [...new Array<number>(dims).fill(Math.log(0.15 * scale)), 0, Math.log(1e-2)],
    [...new Array<number>(dims).fill(Math.log(2 * scale)), 0, Math.log(1e-4)],
  ].map((start) => new AdamRun(start.map((v, i) => Math.min(upper[i]!, Math.max(lower[i]!, v))), lower, upper));
  // Every start gets a short run; the most promising one continues.
  const warmup = Math.min(10, iterations);
  for (const run of starts) for (let t = 0; t < warmup; t++) run.step(fx, fz, fe);
  const leader = starts.reduce((a, b) => (b.best.value > a.best.value ? b : a));
  for (let t = warmup; t < iterations; t++) leader.step(fx, fz, fe);
  const best = leader.best;
  const hyper: GpHyperparameters = {
    lengthscales: best.theta.slice(0, dims).map(Math.exp),
    signal: Math.exp(best.theta[dims]!),
    noise: Math.exp(best.theta[dims + 1]!),
  };
  return new GaussianProcess(x, y, hyper, all.mean, all.std, extraNoise);
}
