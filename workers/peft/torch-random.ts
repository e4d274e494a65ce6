/**
 * PyTorch's CPU random stream, reproduced: the 32-bit Mersenne Twister (MT19937) that
 * `torch.Generator().manual_seed(seed)` starts, `torch.randperm` (a Fisher-Yates shuffle drawing
 * `random() % (n - i)`) and float `uniform_` (24 random bits per value). With them VeRA's shared
 * projections and FourierFT's frequency positions are the ones Hugging Face PEFT draws from the
 * same seed (checked against torch 1.13 in test/fixtures/peft-methods.json).
 */

const N = 624;
const M = 397;

/** An MT19937 stream seeded like `torch.Generator().manual_seed(seed)` (seeds below 2^32). */
export class TorchGenerator {
  private readonly state = new Uint32Array(N);
  private index = N;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new RangeError(`a torch seed must be an integer in [0, 2^32), got ${seed}`);
    this.state[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = this.state[i - 1]! ^ (this.state[i - 1]! >>> 30);
      this.state[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  private twist(): void {
    const s = this.state;
    for (let i = 0; i < N; i++) {
      const y = (s[i]! & 0x80000000) | (s[(i + 1) % N]! & 0x7fffffff);
      s[i] = s[(i + M) % N]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }

  /** The next 32-bit output (torch's `generator->random()`). */
  random(): number {
    if (this.index >= N) this.twist();
    let y = this.state[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }
}

/** The first `count` entries of `torch.randperm(n, generator=torch.Generator().manual_seed(seed))`. */
export function torchRandpermPrefix(n: number, count: number, seed: number): number[] {
  const generator = new TorchGenerator(seed);
  // Fisher-Yates from the front: entry i is final after step i, so `count` steps suffice.
  const swapped = new Map<number, number>();
  const at = (i: number): number => swapped.get(i) ?? i;
  const out: number[] = [];
  for (let i = 0; i < Math.min(count, n); i++) {
    if (i < n - 1) {
      const z = i + (generator.random() % (n - i));
      const vi = at(i);
      swapped.set(i, at(z));
      swapped.set(z, vi);
    }
    out.push(at(i));
  }
  return out;
}

/** `torch.empty(count).uniform_(from, to, generator)` values, continuing `generator`'s stream. */
export function torchUniform(generator: TorchGenerator, count: number, from: number, to: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (generator.random() & 0xffffff) * 2 ** -24 * (to - from) + from;
  return out;
}
