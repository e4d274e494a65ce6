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
  /**
   * Prior variance (relative to the signal) of the coefficients of a diagonal quadratic mean
   * (see {@link basisFeatures}), integrated out; 0 or absent: none.
   */
  basis?: number;
}

/**
 * Features of the quadratic mean: per input, 2(x − ½) and 4(x − ½)² − ⅓ (centred for a uniform
 * input), scaled so that their coefficients, each with prior variance `weight / D`, add about
 * `weight` of variance in total. A kernel term signal · f(x)·f(x′) is the same as such a mean
 * with Gaussian coefficients integrated out: the GP can then explain a bowl along an input
 * from few points, which a long-lengthscale Matérn term sees as flat.
 */
export function basisFeatures(x: ArrayLike<number>, weight: number): Float64Array {
  const dims = x.length;
  if (!(weight > 0)) return new Float64Array(0);
  const f = new Float64Array(2 * dims);
  const scale = Math.sqrt(weight / dims);
  for (let d = 0; d < dims; d++) {
    const u = x[d]! - 0.5;
    f[2 * d] = scale * 2 * u;
    f[2 * d + 1] = scale * (4 * u * u - 1 / 3);
  }
  return f;
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
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
  /** Prior variance (relative to the signal) of a quadratic mean's coefficients, see {@link basisFeatures}; 0: none. @defaultValue 0 */
  basis?: number;
}

function matern(r: number): number {
  return (1 + SQRT5 * r + (5 / 3) * r * r) * Math.exp(-SQRT5 * r);
}

/** Solves L z = b for lower-triangular L stored as rows. */
function forward(rows: readonly Float64Array[], b: ArrayLike<number>, n = rows.length): Float64Array {
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
function backward(rows: readonly Float64Array[], z: Float64Array): Float64Array {
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

/**
 * One factorised conditioning set: inputs scaled by the lengthscales, the rows of the lower
 * Cholesky factor of K + diag(noise), and the noise actually on each diagonal entry. Row i
 * depends only on points 0..i, so a factor of a prefix is the prefix of the factor: rows are
 * written once and then shared between a factor and its extensions, never modified.
 */
interface Factor {
  keys: string[];
  scaled: Float64Array[];
  /** Quadratic-mean features of each point (empty without one). */
  features: Float64Array[];
  rows: Float64Array[];
  diagonalNoise: number[];
}

/**
 * A memo of Cholesky factors by hyperparameters and conditioning points. A study's history
 * grows by a few points between asks while its hyperparameters are refitted only every so
 * often, so the next ask extends the longest matching prefix in O(n²) per new point instead
 * of refactorising in O(n³). It holds derived data only: a miss gives the same factor, slower.
 */
export class FactorCache {
  private readonly entries: { hyperKey: string; factor: Factor }[] = [];

  /** @param maxEntries factors kept (least recently used dropped). @defaultValue 8 */
  constructor(private readonly maxEntries = 8) {}

  /** The cached factor with this hyperparameter key sharing the longest prefix with `keys`, and that prefix's length. */
  lookup(hyperKey: string, keys: readonly string[]): { factor: Factor; prefix: number } | undefined {
    let best: { index: number; prefix: number } | undefined;
    for (const [index, entry] of this.entries.entries()) {
      if (entry.hyperKey !== hyperKey) continue;
      const other = entry.factor.keys;
      const limit = Math.min(other.length, keys.length);
      let prefix = 0;
      while (prefix < limit && other[prefix] === keys[prefix]) prefix++;
      if (!best || prefix > best.prefix) best = { index, prefix };
    }
    if (!best || best.prefix === 0) return undefined;
    const [entry] = this.entries.splice(best.index, 1);
    this.entries.push(entry!);
    return { factor: entry!.factor, prefix: best.prefix };
  }

  /** Stores a factor, replacing any entry it extends. */
  store(hyperKey: string, factor: Factor): void {
    const index = this.entries.findIndex((e) => e.hyperKey === hyperKey && e.factor.keys.length <= factor.keys.length && e.factor.keys.every((k, i) => factor.keys[i] === k));
    if (index >= 0) this.entries.splice(index, 1);
    this.entries.push({ hyperKey, factor: { keys: [...factor.keys], scaled: [...factor.scaled], features: [...factor.features], rows: [...factor.rows], diagonalNoise: [...factor.diagonalNoise] } });
    while (this.entries.length > this.maxEntries) this.entries.shift();
  }

  /** Drops every entry. */
  clear(): void {
    this.entries.length = 0;
  }
}

/** The process-wide factor memo the samplers share. */
export const sharedFactorCache = new FactorCache();

/** Options of conditioning a GP. */
export interface GpConditionOptions {
  /** Extra noise variance per observation (standardised units), e.g. for pruned trials. */
  extraNoise?: readonly number[];
  /** Factor memo; `null` factorises from scratch. @defaultValue sharedFactorCache */
  cache?: FactorCache | null;
}

/**
 * A GP conditioned on data; `addObservation` extends it (e.g. with fantasies) in O(n²).
 * `predict` is exact in O(n²); `predictMean` is O(n); `predictLocal` has the exact mean and
 * the variance given the k nearest conditioning points only, an upper bound of the exact one
 * (conditioning on fewer points never lowers the variance) at O(n + k³) cost.
 */
export class GaussianProcess {
  private readonly keys: string[];
  private readonly scaled: Float64Array[];
  private readonly features: Float64Array[];
  private readonly basis: number;
  private readonly rows: Float64Array[];
  private readonly diagonalNoise: number[];
  private readonly ys: number[] = [];
  private alpha: Float64Array | undefined;
  /** Σ_i α_i f(x_i): the quadratic mean's part of the posterior mean is f(x) · this, O(D) per prediction. */
  private basisWeights: Float64Array | undefined;
  private readonly inverseLengthscales: number[];
  /** The scaled inputs in one row-major array, for the O(n) loop of predictLocal (built on first use). */
  private packed: { values: Float64Array; rows: number } | undefined;
  private scratch: { nearest: Int32Array; nearestR2: Float64Array; local: Float64Array; kx: Float64Array; z: Float64Array } | undefined;

  constructor(
    inputs: readonly (readonly number[])[],
    outputs: readonly number[],
    readonly hyper: GpHyperparameters,
    private readonly yMean: number,
    private readonly yStd: number,
    options: GpConditionOptions = {},
  ) {
    const { extraNoise, cache = sharedFactorCache } = options;
    this.inverseLengthscales = hyper.lengthscales.map((l) => 1 / l);
    this.basis = hyper.basis ?? 0;
    for (const y of outputs) this.ys.push((y - yMean) / yStd);
    const keys = inputs.map((x, i) => `${x.join(',')}|${extraNoise?.[i] ?? 0}`);
    const hyperKey = `${hyper.lengthscales.join(',')}|${hyper.signal}|${hyper.noise}|${this.basis}`;
    const hit = cache?.lookup(hyperKey, keys);
    const prefix = hit?.prefix ?? 0;
    this.keys = keys.slice(0, prefix);
    this.scaled = hit ? hit.factor.scaled.slice(0, prefix) : [];
    this.features = hit ? hit.factor.features.slice(0, prefix) : [];
    this.rows = hit ? hit.factor.rows.slice(0, prefix) : [];
    this.diagonalNoise = hit ? hit.factor.diagonalNoise.slice(0, prefix) : [];
    for (let i = prefix; i < inputs.length; i++) this.extend(keys[i]!, this.scale(inputs[i]!), basisFeatures(inputs[i]!, this.basis), extraNoise?.[i] ?? 0);
    if (cache && prefix < inputs.length) cache.store(hyperKey, { keys: this.keys, scaled: this.scaled, features: this.features, rows: this.rows, diagonalNoise: this.diagonalNoise });
  }

  /** Number of conditioning points. */
  get size(): number {
    return this.rows.length;
  }

  private scale(x: readonly number[]): Float64Array {
    return Float64Array.from(x, (v, d) => v * this.inverseLengthscales[d]!);
  }

  private kernel(a: Float64Array, b: Float64Array, fa: Float64Array, fb: Float64Array): number {
    let r2 = 0;
    for (let d = 0; d < a.length; d++) {
      const diff = a[d]! - b[d]!;
      r2 += diff * diff;
    }
    return this.hyper.signal * (matern(Math.sqrt(r2)) + dot(fa, fb));
  }

  /**
   * Appends one point: a new factor row from one triangular solve. A pivot that rounding made
   * (nearly) non-positive, e.g. for a repeated input, is raised by adding jitter to that
   * diagonal entry alone, so earlier rows stay valid and shared.
   */
  private extend(key: string, xs: Float64Array, fs: Float64Array, extra: number): void {
    const k = new Float64Array(this.rows.length);
    for (let j = 0; j < k.length; j++) k[j] = this.kernel(xs, this.scaled[j]!, fs, this.features[j]!);
    const l = forward(this.rows, k);
    let noise = this.hyper.noise + 1e-10 + extra;
    let pivot = this.hyper.signal * (1 + dot(fs, fs)) + noise;
    for (const v of l) pivot -= v * v;
    const floor = 1e-8 * (this.hyper.signal + this.hyper.noise);
    if (!(pivot > floor)) {
      noise += floor - (Number.isFinite(pivot) ? pivot : 0);
      pivot = floor;
    }
    const row = new Float64Array(l.length + 1);
    row.set(l);
    row[l.length] = Math.sqrt(pivot);
    this.rows.push(row);
    this.scaled.push(xs);
    this.features.push(fs);
    this.keys.push(key);
    this.diagonalNoise.push(noise);
  }

  /** Conditions on one more observation (raw output units). */
  addObservation(x: readonly number[], y: number): void {
    this.extend(`${x.join(',')}|0`, this.scale(x), basisFeatures(x, this.basis), 0);
    this.ys.push((y - this.yMean) / this.yStd);
    this.alpha = undefined;
    this.basisWeights = undefined;
  }

  private weights(): Float64Array {
    this.alpha ??= backward(this.rows, forward(this.rows, this.ys));
    return this.alpha;
  }

  /** The quadratic mean's part of the (standardised) posterior mean at features fs. */
  private basisMean(fs: Float64Array): number {
    if (fs.length === 0) return 0;
    if (!this.basisWeights) {
      const alpha = this.weights();
      const w = new Float64Array(fs.length);
      for (let i = 0; i < alpha.length; i++) {
        const f = this.features[i]!;
        for (let j = 0; j < w.length; j++) w[j] = w[j]! + alpha[i]! * f[j]!;
      }
      this.basisWeights = w;
    }
    return this.hyper.signal * dot(fs, this.basisWeights);
  }

  /** Matérn part of the kernel between scaled inputs. */
  private materns(a: Float64Array, b: Float64Array): number {
    let r2 = 0;
    for (let d = 0; d < a.length; d++) {
      const diff = a[d]! - b[d]!;
      r2 += diff * diff;
    }
    return this.hyper.signal * matern(Math.sqrt(r2));
  }

  /** Posterior mean at conditioning point i: y_i − σ²_i α_i, since (K + Σ) α = y. */
  meanAt(i: number): number {
    return this.yMean + this.yStd * (this.ys[i]! - this.diagonalNoise[i]! * this.weights()[i]!);
  }

  /** Posterior mean of the latent function at x (O(n)). */
  predictMean(x: readonly number[]): number {
    const alpha = this.weights();
    const xs = this.scale(x);
    let mean = this.basisMean(basisFeatures(x, this.basis));
    for (let i = 0; i < alpha.length; i++) mean += this.materns(xs, this.scaled[i]!) * alpha[i]!;
    return this.yMean + this.yStd * mean;
  }

  /** Posterior mean and variance of the latent function at x (exact, O(n²)). */
  predict(x: readonly number[]): Prediction {
    const alpha = this.weights();
    const xs = this.scale(x);
    const fs = basisFeatures(x, this.basis);
    const n = alpha.length;
    const k = new Float64Array(n);
    let mean = 0;
    for (let i = 0; i < n; i++) {
      k[i] = this.kernel(xs, this.scaled[i]!, fs, this.features[i]!);
      mean += k[i]! * alpha[i]!;
    }
    const v = forward(this.rows, k);
    let variance = this.hyper.signal * (1 + dot(fs, fs));
    for (let i = 0; i < n; i++) variance -= v[i]! * v[i]!;
    return { mean: this.yMean + this.yStd * mean, variance: Math.max(variance, 1e-12) * this.yStd * this.yStd };
  }

  private packedInputs(): Float64Array {
    const n = this.scaled.length;
    const dims = this.inverseLengthscales.length;
    if (!this.packed || this.packed.values.length < n * dims) {
      const values = new Float64Array(Math.max(n, 2 * (this.packed?.rows ?? 0)) * dims);
      this.packed = { values, rows: 0 };
    }
    const { values } = this.packed;
    for (let i = this.packed.rows; i < n; i++) values.set(this.scaled[i]!, i * dims);
    this.packed.rows = n;
    return values;
  }

  /**
   * Exact posterior mean; variance given only the `neighbours` conditioning points nearest to x
   * in lengthscale units (an upper bound of the exact variance, close to it where the
   * nearest points carry most of the information, as for the Matérn kernel).
   */
  predictLocal(x: readonly number[], neighbours: number): Prediction {
    const n = this.rows.length;
    if (n <= neighbours) return this.predict(x);
    const alpha = this.weights();
    const xs = this.scale(x);
    const fs = basisFeatures(x, this.basis);
    const dims = xs.length;
    // Keep the k smallest distances in a sorted buffer (k is small: insertion is cheap).
    if (this.scratch?.nearest.length !== neighbours) {
      this.scratch = { nearest: new Int32Array(neighbours), nearestR2: new Float64Array(neighbours), local: new Float64Array(neighbours * neighbours), kx: new Float64Array(neighbours), z: new Float64Array(neighbours) };
    }
    const { nearest, nearestR2, local, kx, z } = this.scratch;
    nearestR2.fill(Infinity);
    const signal = this.hyper.signal;
    const packed = this.packedInputs();
    let mean = 0;
    for (let i = 0, offset = 0; i < n; i++, offset += dims) {
      let r2 = 0;
      for (let d = 0; d < dims; d++) {
        const diff = xs[d]! - packed[offset + d]!;
        r2 += diff * diff;
      }
      // matern() inlined: this loop is the acquisition's hot path.
      const r = Math.sqrt(r2);
      mean += signal * (1 + SQRT5 * r + (5 / 3) * r2) * Math.exp(-SQRT5 * r) * alpha[i]!;
      if (r2 < nearestR2[neighbours - 1]!) {
        let p = neighbours - 1;
        while (p > 0 && nearestR2[p - 1]! > r2) {
          nearestR2[p] = nearestR2[p - 1]!;
          nearest[p] = nearest[p - 1]!;
          p--;
        }
        nearestR2[p] = r2;
        nearest[p] = i;
      }
    }
    // Local factor of the neighbours' kernel matrix (with their noise), then one solve.
    const m = neighbours;
    for (let a = 0; a < m; a++) {
      const sa = this.scaled[nearest[a]!]!;
      const fa = this.features[nearest[a]!]!;
      kx[a] = this.hyper.signal * (matern(Math.sqrt(nearestR2[a]!)) + dot(fs, fa));
      for (let b = 0; b < a; b++) local[a * m + b] = this.kernel(sa, this.scaled[nearest[b]!]!, fa, this.features[nearest[b]!]!);
      local[a * m + a] = this.hyper.signal * (1 + dot(fa, fa)) + this.diagonalNoise[nearest[a]!]!;
    }
    mean += this.basisMean(fs);
    let variance = this.hyper.signal * (1 + dot(fs, fs));
    for (let a = 0; a < m; a++) {
      for (let b = 0; b <= a; b++) {
        let sum = local[a * m + b]!;
        for (let c = 0; c < b; c++) sum -= local[a * m + c]! * local[b * m + c]!;
        if (a === b) local[a * m + a] = Math.sqrt(Math.max(sum, 1e-12));
        else local[a * m + b] = sum / local[b * m + b]!;
      }
      let sum = kx[a]!;
      for (let c = 0; c < a; c++) sum -= local[a * m + c]! * z[c]!;
      z[a] = sum / local[a * m + a]!;
      variance -= z[a]! * z[a]!;
    }
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
  basis = 0,
): { value: number; gradient: number[] } {
  const n = x.length;
  const dims = theta.length - 2;
  const signal = Math.exp(theta[dims]!);
  const noise = Math.exp(theta[dims + 1]!);
  const scaled = new Float64Array(n * dims);
  for (let i = 0; i < n; i++) for (let d = 0; d < dims; d++) scaled[i * dims + d] = x[i]![d]! / Math.exp(theta[d]!);
  const features = x.map((xi) => basisFeatures(xi, basis));
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
      kf[i * n + j] = signal * (matern(rij) + dot(features[i]!, features[j]!));
      chol[i * n + j] = kf[i * n + j]!;
    }
    chol[i * n + i] = signal * (1 + dot(features[i]!, features[i]!)) + noise + 1e-8 + (extraNoise?.[i] ?? 0);
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
        signalGrad += 0.5 * wij * signal * (1 + dot(features[i]!, features[i]!));
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
    private readonly basis = 0,
  ) {
    this.m = theta.map(() => 0);
    this.v = theta.map(() => 0);
    this.best = { theta: [...theta], value: -Infinity };
  }

  step(x: readonly (readonly number[])[], z: readonly number[], extra?: readonly number[]): void {
    const { value, gradient } = logPosterior(x, z, this.theta, extra, this.basis);
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

/** Memo of hyperparameter fits by their exact inputs (a pure cache: a miss refits to the same result). */
const fitMemo = new Map<string, GpHyperparameters>();
const FIT_MEMO_ENTRIES = 64;

/**
 * Fits hyperparameters by maximum a posteriori on a deterministic subset of at most
 * `maxFitPoints` observations. `extraNoise[i]` (standardised variance) marks observation i as
 * less reliable (e.g. a pruned trial's last report).
 */
export function fitHyperparameters(x: readonly (readonly number[])[], y: readonly number[], options: GpFitOptions = {}, extraNoise?: readonly number[]): GpHyperparameters {
  const { maxFitPoints = 64, iterations = 60, minNoise = 1e-6 } = options;
  const dims = x[0]?.length ?? 0;
  const subset = fitSubset(x.length, standardise(y).z, maxFitPoints);
  const fx = subset.map((i) => x[i]!);
  const fz = standardise(subset.map((i) => y[i]!)).z;
  const fe = extraNoise ? subset.map((i) => extraNoise[i]!) : undefined;
  const key = JSON.stringify([iterations, minNoise, options.basis ?? 0, fx, fz, fe]);
  const known = fitMemo.get(key);
  if (known) return known;
  const lower = [...new Array<number>(dims).fill(Math.log(0.01)), Math.log(0.05), Math.log(minNoise)];
  const upper = [...new Array<number>(dims).fill(Math.log(100)), Math.log(20), Math.log(1)];
  const scale = Math.sqrt(Math.max(1, dims));
  const starts = [
    [...new Array<number>(dims).fill(Math.log(0.5 * scale)), 0, Math.log(1e-3)],
    [...new Array<number>(dims).fill(Math.log(0.15 * scale)), 0, Math.log(1e-2)],
    [...new Array<number>(dims).fill(Math.log(2 * scale)), 0, Math.log(1e-4)],
  ].map((start) => new AdamRun(start.map((v, i) => Math.min(upper[i]!, Math.max(lower[i]!, v))), lower, upper, options.basis ?? 0));
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
    ...(options.basis ? { basis: options.basis } : {}),
  };
  fitMemo.set(key, hyper);
  if (fitMemo.size > FIT_MEMO_ENTRIES) fitMemo.delete(fitMemo.keys().next().value!);
  return hyper;
}

/** Empties the process-wide memos (for cold-start measurements). */
export function clearGpMemos(): void {
  fitMemo.clear();
  sharedFactorCache.clear();
}

/** Standardisation constants of outputs (mean, standard deviation; 1 when constant). */
export function outputScale(y: readonly number[]): { mean: number; std: number } {
  const { mean, std } = standardise(y);
  return { mean, std };
}

/**
 * Fits hyperparameters by maximum a posteriori and conditions a GP on all the data.
 * `extraNoise[i]` (standardised variance) marks observation i as less reliable (e.g. a pruned
 * trial's last report).
 */
export function fitGaussianProcess(x: readonly (readonly number[])[], y: readonly number[], options: GpFitOptions = {}, extraNoise?: readonly number[], cache?: FactorCache | null): GaussianProcess {
  const hyper = fitHyperparameters(x, y, options, extraNoise);
  const { mean, std } = outputScale(y);
  return new GaussianProcess(x, y, hyper, mean, std, { ...(extraNoise ? { extraNoise } : {}), ...(cache !== undefined ? { cache } : {}) });
}
