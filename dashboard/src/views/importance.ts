/**
 * Parameter importance: fANOVA-style variance decomposition (Hutter, Hoos and Leyton-Brown,
 * 2014) of a small random forest fitted to the trials.
 *
 * Why this method and not permutation importance on the GP of search/gp.ts: the GP fits its
 * hyperparameters on at most 64 points and costs O(n³), while the page must rank parameters
 * from thousands of trials in the browser within a frame budget; a forest of shallow trees
 * fits 1,500 trials in tens of milliseconds. Trees split categorical, boolean and conditional
 * parameters as easily as numeric ones. And on a tree the functional ANOVA is exact: each
 * leaf is a box, so the marginal of one parameter (the mean prediction over all the others,
 * uniformly over the space) is a weighted sum over leaves with no Monte-Carlo noise, whereas
 * permutation importance measures the data's correlations as much as the model's and varies
 * with the shuffle. The importance of a parameter is the variance of its main effect as a
 * fraction of the total variance, averaged over the trees; what remains is interactions.
 */

/** The domain of one feature: the uniform measure of fANOVA runs over [lo, hi]. */
export interface FeatureDomain {
  lo: number;
  hi: number;
}

/** Options of {@link fanovaImportance}. */
export interface ImportanceOptions {
  /** @defaultValue 32 */
  trees?: number;
  /** @defaultValue 8 */
  maxDepth?: number;
  /** Fewest samples in a leaf. @defaultValue 3 */
  minLeaf?: number;
  /** Bootstrap sample size per tree, at most (keeps 10,000-trial studies fast). @defaultValue 1500 */
  maxSamples?: number;
  /** @defaultValue 1 */
  seed?: number;
}

interface Leaf {
  lo: number[];
  hi: number[];
  value: number;
}

/** A small deterministic PRNG (mulberry32), so the same trials give the same ranking. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Split {
  feature: number;
  threshold: number;
  gain: number;
}

/** The split of `rows` on one of `features` that most reduces the squared error, if any. */
function bestSplit(x: readonly (readonly number[])[], y: readonly number[], rows: number[], features: number[], minLeaf: number): Split | undefined {
  let total = 0;
  let totalSq = 0;
  for (const r of rows) {
    total += y[r]!;
    totalSq += y[r]! * y[r]!;
  }
  const n = rows.length;
  const parentSse = totalSq - (total * total) / n;
  let best: Split | undefined;
  for (const f of features) {
    const sorted = [...rows].sort((a, b) => x[a]![f]! - x[b]![f]!);
    let left = 0;
    for (let i = 0; i < n - 1; i++) {
      left += y[sorted[i]!]!;
      const here = x[sorted[i]!]![f]!;
      const next = x[sorted[i + 1]!]![f]!;
      if (here === next || i + 1 < minLeaf || n - i - 1 < minLeaf) continue;
      const nl = i + 1;
      const right = total - left;
      // SSE reduction = between-group sum of squares.
      const gain = (left * left) / nl + (right * right) / (n - nl) - (total * total) / n;
      if (!best || gain > best.gain) best = { feature: f, threshold: (here + next) / 2, gain };
    }
  }
  return best && best.gain > 1e-12 * Math.max(1, parentSse) ? best : undefined;
}

/** Grows one regression tree on `rows` and returns its leaves (boxes inside the domains). */
function growTree(x: readonly (readonly number[])[], y: readonly number[], rows: number[], domains: readonly FeatureDomain[], options: Required<ImportanceOptions>, random: () => number): Leaf[] {
  const d = domains.length;
  const tries = Math.max(1, Math.ceil(d / 2));
  const leaves: Leaf[] = [];
  const grow = (part: number[], lo: number[], hi: number[], depth: number): void => {
    const mean = part.reduce((s, r) => s + y[r]!, 0) / part.length;
    let split: Split | undefined;
    if (depth < options.maxDepth && part.length >= 2 * options.minLeaf) {
      const features = sampleFeatures(d, d, random);
      // Like a forest's usual rule: the best of a few random features, the others only when those cannot split.
      split = bestSplit(x, y, part, features.slice(0, tries), options.minLeaf) ?? bestSplit(x, y, part, features.slice(tries), options.minLeaf);
    }
    if (!split) {
      leaves.push({ lo, hi, value: mean });
      return;
    }
    const left = part.filter((r) => x[r]![split.feature]! <= split.threshold);
    const right = part.filter((r) => x[r]![split.feature]! > split.threshold);
    const leftHi = [...hi];
    leftHi[split.feature] = split.threshold;
    const rightLo = [...lo];
    rightLo[split.feature] = split.threshold;
    grow(left, lo, leftHi, depth + 1);
    grow(right, rightLo, hi, depth + 1);
  };
  grow(rows, domains.map((b) => b.lo), domains.map((b) => b.hi), 0);
  return leaves;
}

/** `k` distinct features of `d`, drawn at random (a forest's per-split feature sampling). */
function sampleFeatures(d: number, k: number, random: () => number): number[] {
  const all = Array.from({ length: d }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (d - i));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, k);
}

/** Main-effect variance fractions of one tree's leaves (exact functional ANOVA on boxes). */
function treeMainEffects(leaves: readonly Leaf[], domains: readonly FeatureDomain[]): number[] | undefined {
  const d = domains.length;
  const width = domains.map((b) => b.hi - b.lo || 1);
  // Volume fraction of each leaf, and of each leaf without dimension i.
  const fraction = leaves.map((leaf) => leaf.lo.reduce((v, lo, i) => v * ((leaf.hi[i]! - lo) / width[i]!), 1));
  let mean = 0;
  for (let k = 0; k < leaves.length; k++) mean += fraction[k]! * leaves[k]!.value;
  let variance = 0;
  for (let k = 0; k < leaves.length; k++) variance += fraction[k]! * (leaves[k]!.value - mean) ** 2;
  if (!(variance > 1e-15)) return undefined;
  const effects: number[] = [];
  for (let i = 0; i < d; i++) {
    const cuts = new Set<number>([domains[i]!.lo, domains[i]!.hi]);
    for (const leaf of leaves) {
      cuts.add(leaf.lo[i]!);
      cuts.add(leaf.hi[i]!);
    }
    const edges = [...cuts].sort((a, b) => a - b);
    let vi = 0;
    for (let j = 0; j + 1 < edges.length; j++) {
      const a = edges[j]!;
      const b = edges[j + 1]!;
      const mid = (a + b) / 2;
      // Marginal at x_i in (a, b): every leaf spanning it, weighted by its volume in the other dimensions.
      let marginal = 0;
      for (let k = 0; k < leaves.length; k++) {
        const leaf = leaves[k]!;
        if (leaf.lo[i]! <= mid && mid < leaf.hi[i]!) marginal += (fraction[k]! * width[i]!) / (leaf.hi[i]! - leaf.lo[i]!) * leaf.value;
      }
      vi += ((b - a) / width[i]!) * (marginal - mean) ** 2;
    }
    effects.push(vi / variance);
  }
  return effects;
}

/**
 * The importance of each feature of `x` for `y`: the share of the forest's variance explained
 * by that feature's main effect, in [0, 1] (the shares sum to at most 1; the rest is
 * interactions). All zeros when `y` does not vary or there are fewer than 2 samples.
 */
export function fanovaImportance(
  x: readonly (readonly number[])[],
  y: readonly number[],
  domains: readonly FeatureDomain[],
  options: ImportanceOptions = {},
): number[] {
  const steps = fanovaSteps(x, y, domains, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * {@link fanovaImportance} one tree at a time: the generator yields after each tree and returns
 * the shares, so a page can fit the forest in slices between frames (at 10,000 trials the
 * whole fit takes a few hundred milliseconds, too long to block input).
 */
export function* fanovaSteps(
  x: readonly (readonly number[])[],
  y: readonly number[],
  domains: readonly FeatureDomain[],
  options: ImportanceOptions = {},
): Generator<void, number[], void> {
  const o: Required<ImportanceOptions> = { trees: 32, maxDepth: 8, minLeaf: 3, maxSamples: 1500, seed: 1, ...options };
  const d = domains.length;
  const totals = new Array<number>(d).fill(0);
  if (x.length < 2 || d === 0) return totals;
  const random = prng(o.seed);
  const size = Math.min(x.length, o.maxSamples);
  let counted = 0;
  for (let t = 0; t < o.trees; t++) {
    const rows = Array.from({ length: size }, () => Math.floor(random() * x.length));
    const effects = treeMainEffects(growTree(x, y, rows, domains, o, random), domains);
    if (effects) {
      counted++;
      for (let i = 0; i < d; i++) totals[i]! += effects[i]!;
    }
    if (t + 1 < o.trees) yield;
  }
  return counted > 0 ? totals.map((v) => v / counted) : totals;
}
